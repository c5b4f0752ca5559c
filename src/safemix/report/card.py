"""``safemix card RUN_DIR --k K``: a Hugging Face model card for one point's adapter.

``RUN_DIR/cards/k{K}-seed{S}/`` gets the adapter (safetensors + config, copied) and a ``README.md``
with YAML metadata (base model, datasets on the Hub, ``library_name: peft``, tags), how the adapter
was trained (mixture, N, k, seed, hyperparameters, from the run's manifests), and its safety results
beside the k=0 point of the same seed (from ``results.json``, with intervals and the judges named).
``--push REPO_ID`` uploads the folder with ``huggingface_hub`` (token from ``HF_TOKEN``; never logged).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..artifacts import TRAIN_MANIFEST, MixtureManifest, TrainManifest, mixture_manifest, read_record, weights_dir
from ..errors import SafemixError
from ..fileio import atomic_copy, atomic_write_text, inside
from ..secrets import redact
from .document import read_rows
from .headline import HEADLINE as STUDY_HEADLINE
from .headline import headline_judge

HEADLINE = (*STUDY_HEADLINE, ("I-Alpaca", "refusal_rate", "refusals of I-Alpaca (benign)"))


def _hub_dataset(url: str | None) -> str | None:
    m = re.match(r"https://huggingface\.co/datasets/([^/]+/[^/]+)/", url or "")
    return m.group(1) if m else None


def _base_hub_id(spec: str) -> str | None:
    from ..models.builtin import BUILTINS

    if spec in BUILTINS:
        return BUILTINS[spec].hub_id
    return spec if re.fullmatch(r"[\w.-]+/[\w.-]+", spec) and not Path(spec).exists() else None


def build_card(run_dir: str | Path, k: int, seed: int | None = None, out: str | Path | None = None) -> Path:
    from ..artifacts import read_steps
    from ..config import load_run_config
    from ..data.registry import REGISTRY

    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir / "config.yaml")
    seed = cfg.seeds[0] if seed is None else seed
    listed = read_steps(run_dir)
    train = next((s for s in listed.steps if (s.stage, s.k, s.seed) == ("train", k, seed)), None)
    if train is None:
        raise SafemixError(f"{run_dir}: no point k={k} seed={seed} in this run (k: {cfg.data.k}, seeds: {cfg.seeds})")
    train_path = run_dir / train.path
    if not listed.done(run_dir, train):
        raise SafemixError(f"{train_path}: the training of k={k} seed={seed} is not finished; run 'safemix run' first")
    manifest = read_record(TrainManifest, train_path / TRAIN_MANIFEST)
    if manifest.kind != "adapter":
        raise SafemixError(f"{train_path}: a full fine-tune; model cards are written for adapters")
    mix = read_record(MixtureManifest, mixture_manifest(run_dir / train.parent, k)).dump()
    rows = read_rows(run_dir)
    ref = headline_judge(rows)  # the judge behind the report's own headline figures

    def cell(suite, metric, kk):
        for r in rows:
            if (r["suite"], r["metric"], r["k"], r["seed"]) == (suite, metric, kk, seed) and r["judge"] in (ref, "lm-eval"):
                return f"{float(r['value']):.2f} [{float(r['ci_low']):.2f}, {float(r['ci_high']):.2f}]"
        return "—"

    table = [f"| metric ({ref}; 95% Wilson intervals) | this adapter (k={k}) | k=0 (no safety data) |", "|---|---|---|"]
    table += [f"| {label} | {cell(s, m, k)} | {cell(s, m, 0)} |" for s, m, label in HEADLINE]
    for task in sorted({r["suite"] for r in rows if r["judge"] == "lm-eval" and r["metric"] == "acc"}):
        table.append(f"| capability: {task} accuracy (lm-eval) | {cell(task, 'acc', k)} | {cell(task, 'acc', 0)} |")
    datasets = [d for d in (_hub_dataset(REGISTRY[n].url) for n in (cfg.data.general.lower(), cfg.data.safety.lower())
                            if n in REGISTRY) if d]
    base = _base_hub_id(manifest.base_model)
    t = cfg.train
    meta = ["---", "library_name: peft"] + ([f"base_model: {base}"] if base else []) + \
        (["datasets:"] + [f"- {d}" for d in datasets] if datasets else []) + \
        ["tags:", "- safemix", "- safety", "- lora", "- peft", "---", ""]
    general, safety = mix.get("general", {}), mix.get("safety", {})
    total = mix.get("counts", {}).get("total") or (cfg.data.n_general + k)
    body = f"""# {cfg.name}: {manifest.base_model} + LoRA, k={k} safety demonstrations (seed {seed})

A LoRA adapter from a safemix safety-tuning sweep (after Bianchi et al., *Safety-Tuned
LLaMAs*, ICLR 2024): {cfg.data.n_general} general instructions plus k={k} safety demonstrations
({100 * k / max(1, total):.1f}% of the tuning data).

## Training
- Base model: `{manifest.base_model}` (fingerprint `{(manifest.base_fingerprint or '')[:16]}`)
- General data: {general.get('name', cfg.data.general)} ({general.get('source', '')}, sha256 `{str(general.get('sha256', ''))[:16]}`)
- Safety data: {safety.get('name', cfg.data.safety)} ({safety.get('source', '')}, sha256 `{str(safety.get('sha256', ''))[:16]}`)
- Mixture: N={cfg.data.n_general}, k={k}, seed {seed}, strategy {cfg.data.strategy}; data licences: see the sources
- LoRA r={t.lora_r}, alpha={t.lora_alpha}, dropout {t.lora_dropout}, on {', '.join(t.lora_target_modules or ['the family default'])}
- lr {t.learning_rate:g}, batch {t.batch_size}, {t.epochs:g} epoch(s), cutoff {t.cutoff_len} tokens, prompt format `{manifest.prompt_format.name}`
- Steps {manifest.model_extra.get('steps')}, final loss {manifest.model_extra.get('final_loss')}

## Safety results
Judge `{ref}` for refusals and harmful compliance (an offline proxy where it says so in the run's report).

{chr(10).join(table)}

Full report: `report/report.html` of the run.
"""
    folder = Path(out) if out else inside(run_dir, run_dir / "cards" / f"k{k}-seed{seed}")
    folder.mkdir(parents=True, exist_ok=True)
    weights = weights_dir(train_path, "adapter")
    for f in ("adapter_model.safetensors", "adapter_config.json"):
        atomic_copy(weights / f, folder / f)  # a symlink planted in the folder is replaced, not written through
    atomic_write_text(folder / "README.md", "\n".join(meta) + body)
    return folder


def push_card(folder: str | Path, repo_id: str, api=None) -> str:
    """Upload a card folder to the Hub (``api``: a ``huggingface_hub.HfApi``; the token comes from
    ``HF_TOKEN`` and is passed to the client only)."""
    if api is None:
        try:
            from huggingface_hub import HfApi
        except ImportError:
            raise SafemixError("pushing needs huggingface_hub: pip install huggingface_hub") from None
        api = HfApi(token=os.environ.get("HF_TOKEN"))
    try:
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="safemix model card and adapter")
    except Exception as exc:  # the Hub client raises many kinds (offline, auth, HTTP): one line, no token
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise SafemixError(f"cannot push {folder} to the Hub as {repo_id}: {redact(first)}") from None
    return f"https://huggingface.co/{repo_id}"

"""``safemix run CONFIG --check``: everything that can be checked before any work, all at once.

Each check is a row (OK / FAIL, the config key it concerns, what was found, and the fix); one failing
check never hides the others. ``safemix run`` runs the same checks before its first unfinished step and
stops, exit 2, on any FAIL, so a sweep does not train for hours and then fail at generation.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Callable, Iterator

from ..config import RunConfig
from ..errors import SafemixError
from ..stage import STAGES, CheckRow
from .stages import data_dir

GB = 1024 ** 3


Check = CheckRow  # what: the check in a few words; key: the config key; ok; detail: what was found; fix


def attempt(what: str, key: str, fn: Callable[[], str], fix: str = "") -> Check:
    """Run one check: its return value is the detail of an OK; a SafemixError (or any error, on one line) a FAIL."""
    try:
        return Check(what, key, True, fn() or "")
    except SafemixError as exc:
        return Check(what, key, False, str(exc), fix)
    except Exception as exc:  # a library's error: one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0][:240]
        return Check(what, key, False, f"{type(exc).__name__}: {first}", fix)


# ------------------------------------------------------------------ extras
def extras_needed(cfg: RunConfig) -> list[tuple[str, str, str]]:
    """(config key, module, extra) of every optional package the config needs."""
    from ..data.hf import is_hf_spec

    need = []
    if cfg.generate.backend == "vllm":
        need.append(("generate.backend: vllm", "vllm", "vllm"))
    if getattr(cfg.judge_options, "backend", None) == "vllm":
        need.append(("judge_options.backend: vllm", "vllm", "vllm"))
    if cfg.executor.kind == "slurm":
        need.append(("executor.kind: slurm", "submitit", "slurm"))
    if cfg.executor.kind == "ray":
        need.append(("executor.kind: ray", "ray", "ray"))
    if cfg.capability is not None:
        need.append(("capability", "lm_eval", "lmeval"))
    specs = [("data.general", cfg.data.general), ("data.safety", cfg.data.safety)]
    specs += [(f"generate.suites[{i}]", s) for i, s in enumerate(cfg.generate.suites)]
    need += [(key, "datasets", "hf") for key, spec in specs if is_hf_spec(spec)]
    if cfg.train.method == "qlora":
        need.append(("train.method: qlora", "bitsandbytes", "qlora: pip install bitsandbytes"))
    return need


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def extra_checks(cfg: RunConfig) -> Iterator[Check]:
    for key, module, extra in extras_needed(cfg):
        fix = extra if extra.startswith("qlora") else f"pip install 'safemix[{extra}]'"
        ok = _installed(module)
        yield Check(f"extra '{module}' installed", key, ok, "importable" if ok else f"'{module}' is not installed", fix)


# ------------------------------------------------------------------ model
def _meta_model(folder: Path, trust_remote_code: bool):
    """The model's module tree without its weights (meta device): which linear layers it has, its context."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    conf = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(conf, trust_remote_code=trust_remote_code)
    return conf, model


def model_checks(cfg: RunConfig, found: dict) -> Iterator[Check]:
    """The model's rows; ``found['folder']``: its local folder, once it resolved."""
    from ..formats import get_format
    from ..models import load_tokenizer, resolve_model
    from ..models.families import lora_targets

    t = cfg.train
    ref = None

    def resolve() -> str:
        nonlocal ref
        ref = resolve_model(cfg.model, download=False)
        return (f"Hub commit {ref.revision[:12]} ({ref.path})" if ref.revision else f"{ref.path}")

    yield attempt("model resolves", "model", resolve, "a built-in name, a folder with config.json and .safetensors, or a "
               "Hub id org/name[@revision] ('safemix prefetch CONFIG' fills the cache for offline nodes)")
    if ref is None:
        return
    folder = found["folder"] = Path(ref.path)
    conf = model = None

    def architecture() -> str:
        nonlocal conf, model
        conf, model = _meta_model(folder, t.trust_remote_code)
        return f"{conf.model_type}: {type(model).__name__}"

    yield attempt("model architecture loads", "model", architecture, "a model transformers can build as a causal LM")
    if model is not None and t.method in ("lora", "qlora"):
        def targets() -> str:
            wanted = lora_targets(cfg.model, t.lora_target_modules)
            names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
            missing = [x for x in wanted if x not in names]
            if missing:
                linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if type(m).__name__ == "Linear"})
                raise SafemixError(f"no modules named {missing} in {conf.model_type} (its linear layers: {', '.join(linear)})")
            return f"{', '.join(wanted)}" + (" (the family's default)" if t.lora_target_modules is None else "")

        yield attempt("LoRA target modules exist", "train.lora_target_modules", targets,
                   "leave train.lora_target_modules unset (the family's default) or name layers the model has")
    if conf is not None:
        context = getattr(conf, "max_position_embeddings", None) or getattr(conf, "n_positions", None)

        def lengths() -> str:
            if not context:
                return "the model does not state its context length"
            if t.cutoff_len > context:
                raise SafemixError(f"train.cutoff_len {t.cutoff_len} is above the model's context ({context} tokens)")
            if cfg.generate.max_new_tokens and cfg.generate.max_new_tokens > context:
                raise SafemixError(f"generate.max_new_tokens {cfg.generate.max_new_tokens} is above the model's context "
                                   f"({context} tokens)")
            return f"cutoff_len {t.cutoff_len} and answers fit the context ({context} tokens)"

        yield attempt("lengths fit the context", "train.cutoff_len", lengths, "lower train.cutoff_len / generate.max_new_tokens")
    tok = None

    def tokenizer() -> str:
        nonlocal tok
        tok = load_tokenizer(ref, t.trust_remote_code)
        if tok.eos_token is None:
            raise SafemixError("the tokenizer has no EOS token (training ends each example with it; generation stops at it)")
        return f"{type(tok).__name__}, EOS {tok.eos_token!r}, pad {tok.pad_token!r}"

    yield attempt("tokenizer loads, has EOS and pad", "model", tokenizer, "a tokenizer with an EOS token")
    if tok is None:
        return

    def render() -> str:
        fmt = get_format(t.prompt_format, tok)
        train_text = fmt.render("Name three primary colours.", "", tok) + "Red, yellow and blue."
        eval_text = fmt.render("Summarise this.", "A short text.", tok)
        ids = tok(train_text, add_special_tokens=fmt.adds_special_tokens)["input_ids"]
        if len(ids) < 5 or not eval_text.strip():
            raise SafemixError(f"prompt format '{t.prompt_format}' renders an empty or near-empty prompt")
        return f"'{t.prompt_format}': an example is {len(ids)} tokens"

    yield attempt("prompt format renders", "train.prompt_format", render,
               "prompt_format: alpaca, or a tokenizer with a chat template for chat")
    if model is not None:
        yield attempt("memory plan fits", "train / generate", lambda: memoryattempt(cfg, conf, model, tok),
                   "a smaller micro_batch_size, cutoff_len or generate.batch_size, gradient_checkpointing, or a "
                   "larger device")


def memoryattempt(cfg: RunConfig, conf, model, tok) -> str:
    """The memory plan (run/memory.py) against the device: the longest rendered eval prompt sizes the KV cache."""
    from ..data.load import load_suites
    from ..formats import get_format
    from .memory import check_plan, device, env_bytes, plan_memory, shapes

    t = cfg.train
    targets = None
    if t.method in ("lora", "qlora"):
        from ..models.families import lora_targets

        targets = lora_targets(cfg.model, t.lora_target_modules)
    try:
        fmt = get_format(t.prompt_format, tok)
        prompts = [fmt.render(r.prompt, r.input, tok) for s in load_suites(cfg.generate.suites, data_dir(cfg)).values()
                   for r in s.records]
        longest = max((len(ids) for ids in tok(prompts, add_special_tokens=fmt.adds_special_tokens)["input_ids"]),
                      default=256)
    except SafemixError:  # the suites' own rows say why
        longest = 256
    name, have, gpu = device()
    limit = env_bytes("SAFEMIX_MEMORY_LIMIT")
    slurm_mem = getattr(getattr(cfg.executor, "slurm", None), "mem_gb", None) if cfg.executor.kind == "slurm" else None
    if limit is not None:
        name, have = "SAFEMIX_MEMORY_LIMIT", limit
    elif slurm_mem and not gpu:
        name, have = "the SLURM job's mem_gb", slurm_mem * 1024 ** 3
    return check_plan(plan_memory(cfg, shapes(conf, model, targets, t.lora_r), longest, gpu), name, have)


# ------------------------------------------------------------------ data, suites, capability, judges
def data_checks(cfg: RunConfig) -> Iterator[Check]:
    from ..data.load import load_instructions, load_suite
    from ..data.registry import expand_suites

    dd, au = data_dir(cfg), cfg.data.allow_unpinned
    for key, spec, need in (("data.general", cfg.data.general, cfg.data.n_general),
                            ("data.safety", cfg.data.safety, max(cfg.data.k))):
        def one(spec=spec, need=need, key=key) -> str:
            loaded = load_instructions(spec, dd, au)
            if need > len(loaded.records):
                what = "n_general" if key == "data.general" else "k"
                raise SafemixError(f"data.{what}={need} but {spec} has {len(loaded.records)} examples")
            return f"{len(loaded.records)} examples"

        yield attempt(f"data set {spec}", key, one, "a registry name (safemix data list), a file, or hf:ORG/NAME; set "
                   "data.data_dir or SAFEMIX_DATA_DIR to the data folder")
    if cfg.dpo is not None and cfg.dpo.pairs != "derived":
        def pairs() -> str:
            from ..data.load import load_preferences

            got = load_preferences(cfg.dpo.pairs, dd)
            if max(cfg.data.k) > len(got.records):
                raise SafemixError(f"data.k={max(cfg.data.k)} but dpo.pairs {cfg.dpo.pairs} has {len(got.records)} pairs")
            return f"{len(got.records)} pairs"

        yield attempt(f"preference pairs {cfg.dpo.pairs}", "dpo.pairs", pairs)
    try:
        names = expand_suites(cfg.generate.suites)
    except SafemixError as exc:
        yield Check("suites known", "generate.suites", False, str(exc))
        return
    for name in names:
        def suite(name=name) -> str:
            loaded = load_suite(name, dd)
            if not loaded.records:
                raise SafemixError(f"suite {name} has no prompts")
            return f"{len(loaded.records)} prompts"

        shown = Path(name).stem if Path(name).suffix else name  # a prompts file by its name, not its whole path
        yield attempt(f"suite {shown}", "generate.suites", suite, "a registry suite, a group, or a prompts file")


def capability_checks(cfg: RunConfig) -> Iterator[Check]:
    if cfg.capability is None:
        return
    from ..capability.tasks import parse_tasks, read_mc

    try:
        specs = parse_tasks(cfg.capability.tasks)
    except SafemixError as exc:
        yield Check("capability tasks", "capability.tasks", False, str(exc))
        return
    for s in [s for s in specs if s.local]:
        yield attempt(f"capability task {s.name}", "capability.tasks", lambda s=s: f"{len(read_mc(s.path))} items")
    named = [s.name for s in specs if not s.local]
    if named and _installed("lm_eval"):
        def harness() -> str:
            from lm_eval.tasks import TaskManager

            known = set(TaskManager().all_tasks)
            unknown = [n for n in named if n not in known]
            if unknown:
                import difflib

                hints = [f"{n} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(n, known, 1)) else n
                         for n in unknown]
                raise SafemixError(f"not tasks of the installed lm-eval harness: {', '.join(hints)}")
            return ", ".join(named)

        yield attempt("capability tasks exist in lm-eval", "capability.tasks", harness, "a task name from 'lm_eval ls tasks'")


def run_judges(cfg: RunConfig) -> list[tuple[str, str, Callable]]:
    """(row name, config key, a builder) of every judge the run asks: ``judges``, the budget's, the quality judge."""
    from ..judge.base import get_judge, options_for

    options = {"data_dir": data_dir(cfg), **cfg.judge_options.given()}
    out = [(f"judge {n}", "judges", lambda n=n: get_judge(n, **options_for(n, options)))
           for n in list(cfg.judges) + ([cfg.budget.judge] if cfg.budget else [])]
    if cfg.quality is not None:
        q = cfg.quality
        extra = {"judge_model": q.judge_model} if q.judge_model else {}
        out.append((f"quality judge {q.judge}", "quality.judge", lambda: get_judge(q.judge, data_dir=data_dir(cfg), **extra)))
    return out


def judge_checks(cfg: RunConfig, probe: bool = False) -> Iterator[Check]:
    """Each judge's data, weights or endpoint; ``probe``: an API judge asks its endpoint one tiny question."""
    for what, key, build in run_judges(cfg):
        yield attempt(what, key, lambda build=build: build().probe() if probe else build().check(),
                   "its data, weights or endpoint: 'safemix prefetch CONFIG' where there is internet")


# ------------------------------------------------------------------ the machine
def estimate_bytes(cfg: RunConfig, model_folder: Path | None) -> int:
    """What a run writes, generously: per training, the adapter (LoRA) or the model and its optimizer state (full,
    kept in the resumable checkpoint); per point, answers and verdicts; the model itself where not yet cached."""
    weights = sum(p.stat().st_size for p in model_folder.glob("*.safetensors")) if model_folder else 0
    points = len(cfg.seeds) * len(cfg.data.k) * (2 if cfg.dpo is not None else 1)
    per_training = weights * 4 if cfg.train.method == "full" else max(64 << 20, weights // 20)
    return points * (per_training + (64 << 20)) + weights


def machine_checks(cfg: RunConfig, run_dir: Path, model_folder: Path | None) -> Iterator[Check]:
    def disk() -> str:
        where = next(p for p in [Path(run_dir).resolve(), *Path(run_dir).resolve().parents] if p.exists())
        free, need = shutil.disk_usage(where).free, estimate_bytes(cfg, model_folder)
        if free < need:
            raise SafemixError(f"{free / GB:.1f} GB free at {where}, the run may write about {need / GB:.1f} GB")
        return f"{free / GB:.1f} GB free, about {need / GB:.1f} GB needed"

    yield attempt("free disk", "name", disk, "free space, or point --out at a larger file system")
    if cfg.executor.kind != "local":
        def executor() -> str:
            from ..executors import get_executor

            get_executor(cfg.executor.kind, getattr(cfg.executor, cfg.executor.kind), Path(run_dir)).check()
            return f"{cfg.executor.kind} reachable"

        yield attempt(f"executor {cfg.executor.kind}", "executor", executor)
    if cfg.tracking.any():
        def trackers() -> str:
            from ..track import open_trackers

            open_trackers(cfg.tracking, Path(run_dir))
            return "installed"

        yield attempt("trackers", "tracking", trackers, "pip install 'safemix[track]'")


def run_checks(cfg: RunConfig, run_dir: Path, pins: list | None = None, pin_error: str | None = None,
               probe: bool = False) -> list[Check]:
    """Every check of a (pinned) run config, in order; ``probe`` (``--check``): API judges are asked once."""
    rows: list[Check] = []
    if pin_error:
        rows.append(Check("Hub revisions resolve", "model / data", False, pin_error,
                          "a revision that exists; offline: 'safemix prefetch CONFIG' first"))
    for p in pins or []:
        rows.append(Check(f"{p.spec} pinned", p.key, True, f"commit {p.commit}"))
    rows += list(extra_checks(cfg))
    found: dict = {}
    rows += list(model_checks(cfg, found))
    rows += list(data_checks(cfg))
    rows += list(capability_checks(cfg))
    rows += list(judge_checks(cfg, probe))
    for st in STAGES.plugins():  # a plug-in stage's own checks
        if st.enabled(cfg):
            rows += list(st.checks(cfg))
    rows += list(machine_checks(cfg, run_dir, found.get("folder")))
    return rows


def table(rows: list[Check]) -> str:
    """The checks as a plain-text table (one row each; a FAIL's fix below it)."""
    width = max(len(r.what) for r in rows)
    keyw = max(len(r.key) for r in rows)
    lines = [f"{'':4}  {'check':<{width}}  {'config key':<{keyw}}  found"]
    for r in rows:
        lines.append(f"{'OK' if r.ok else 'FAIL':<4}  {r.what:<{width}}  {r.key:<{keyw}}  {r.detail}")
        if not r.ok and r.fix:
            lines.append(f"{'':4}  {'':<{width}}  {'':<{keyw}}  fix: {r.fix}")
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed} OK, {failed} FAIL")
    return "\n".join(lines)


def failures_line(rows: list[Check]) -> str:
    return "; ".join(f"{r.key}: {r.detail}" for r in rows if not r.ok)

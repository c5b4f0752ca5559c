"""``generate()``: answers of a base model or a trained adapter to eval suites, cached and resumable."""

from __future__ import annotations

import os
from pathlib import Path

from ..artifacts import TRAIN_MANIFEST, GenerationRecord, TrainManifest, generation_file, read_record, weights_dir
from ..data.load import load_suites
from ..data.records import EvalPrompt
from ..data.registry import report_group
from ..data.select import hash_order
from ..errors import SafemixError
from ..formats import get_format
from ..markers import clear_done, mark_done
from ..models import fingerprint, load_causal_lm, load_tokenizer, resolve_model
from ..models.adapter import adapter_fingerprint, apply_adapter, check_adapter, refuse_pickles
from ..progress import Ticker
from .presets import Decoding
from .store import SuiteStore, record_key


def read_adapter(adapter: str | os.PathLike) -> tuple[dict, Path, str]:
    """(manifest, weights folder, prompt format name) of a ``safemix train`` output folder."""
    folder = Path(adapter)
    manifest_path = folder / TRAIN_MANIFEST
    if not manifest_path.is_file():
        raise SafemixError(f"{manifest_path}: not a finished safemix train output (no {TRAIN_MANIFEST})")
    typed = read_record(TrainManifest, manifest_path)
    manifest, kind, fmt = typed.dump(), typed.kind, typed.prompt_format.name
    weights = weights_dir(folder, kind)
    if kind == "full":
        refuse_pickles(weights, "weights from .safetensors")
        if not any(weights.glob("*.safetensors")):
            raise SafemixError(f"{weights}: no .safetensors weights")
    else:
        check_adapter(weights)
    return manifest, weights, fmt


Limit = int | dict[str, int] | None


def subsample(prompts: list[EvalPrompt], limit: Limit, seed: int) -> list[EvalPrompt]:
    """A seeded subsample of at most ``limit`` prompts; a mapping gives a limit per suite or per
    report group (``xstest-safe`` / ``xstest-unsafe``), and a group it does not name keeps all."""
    if isinstance(limit, dict):
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(report_group(p.suite, p.label), []).append(i)
        keep: set[int] = set()
        for g, idx in groups.items():
            n = limit.get(g, limit.get(prompts[idx[0]].suite))
            chosen = hash_order([prompts[i] for i in idx], seed, "subsample")[:n] if n else range(len(idx))
            keep.update(idx[j] for j in chosen)
        return [p for i, p in enumerate(prompts) if i in keep]
    if not limit or limit >= len(prompts):
        return prompts
    keep = set(hash_order(prompts, seed, "subsample")[:limit])
    return [p for i, p in enumerate(prompts) if i in keep]


def resolve_trained(model: str | None, adapter) -> tuple[str, object, dict, Path | None, str | None]:
    """(model spec, model ref, adapter manifest, adapter weights folder, trained prompt format)."""
    manifest, weights, trained_fmt = read_adapter(adapter) if adapter else ({}, None, None)
    spec = model or manifest.get("base_model")
    if not spec:
        raise SafemixError("give --model (or an --adapter whose manifest names its base model)")
    ref = resolve_model(spec)
    if manifest and manifest.get("base_fingerprint") not in (None, ref.fingerprint):
        raise SafemixError(f"adapter {adapter} was trained on a different base model than '{spec}'")
    return spec, ref, manifest, weights, trained_fmt


def model_info(spec: str, ref, adapter, weights: Path | None, kind: str | None = None) -> dict:
    """What a result records about the model it came from."""
    return {"model": spec, "model_fingerprint": ref.fingerprint, "adapter": str(adapter) if adapter else None,
            "adapter_fingerprint": None if not weights else fingerprint(weights) if kind == "full"
            else adapter_fingerprint(weights)}


def load_merged(ref, manifest: dict, weights: Path | None, trust_remote_code: bool = False, dtype=None):
    """The causal LM of a base model, a full fine-tune, or a base model with its LoRA merged in."""
    if manifest.get("kind") == "full":
        return load_causal_lm(type(ref)(ref.spec, str(weights), fingerprint(weights)), dtype=dtype,
                              trust_remote_code=trust_remote_code)
    lm = load_causal_lm(ref, dtype=dtype, trust_remote_code=trust_remote_code)
    return apply_adapter(lm, weights) if weights is not None else lm


def load_model(model: str | None = None, adapter=None, trust_remote_code: bool = False, dtype=None):
    """(model, tokenizer, info) for a base model and/or a ``safemix train`` output folder."""
    spec, ref, manifest, weights, _ = resolve_trained(model, adapter)
    info = model_info(spec, ref, adapter, weights, manifest.get("kind"))
    lm = load_merged(ref, manifest, weights, trust_remote_code, dtype)
    return lm, load_tokenizer(ref, trust_remote_code), info


def load_backend(model: str | None, adapter, prompt_format: str | None, allow_format_mismatch: bool,
                 backend: str = "hf", trust_remote_code: bool = False):
    """Resolve model + adapter and the prompt format; returns (backend, info for records)."""
    spec, ref, manifest, weights, trained_fmt = resolve_trained(model, adapter)
    fmt_name = prompt_format or trained_fmt or "alpaca"
    mismatch = trained_fmt is not None and fmt_name != trained_fmt
    if mismatch and not allow_format_mismatch:
        raise SafemixError(f"adapter {adapter} was trained with prompt format '{trained_fmt}', not '{fmt_name}' "
                           f"(pass --allow-format-mismatch to generate anyway)")
    info = {**model_info(spec, ref, adapter, weights, manifest.get("kind")), "prompt_format": fmt_name, "format_mismatch": mismatch}
    if backend == "vllm":
        from .vllm import VLLMBackend

        if manifest.get("kind") == "full":
            return VLLMBackend(str(weights), None, base=False), info, _fmt(fmt_name, ref, trust_remote_code)
        return VLLMBackend(ref.path, weights), info, _fmt(fmt_name, ref, trust_remote_code)
    if backend != "hf":
        raise SafemixError(f"unknown backend '{backend}' (known: hf, vllm)")
    from .hf import HFBackend

    tok = load_tokenizer(ref, trust_remote_code)
    fmt = get_format(fmt_name, tok)
    return HFBackend(load_merged(ref, manifest, weights, trust_remote_code), tok, fmt), info, fmt


def _fmt(name, ref, trust_remote_code):
    return get_format(name, load_tokenizer(ref, trust_remote_code) if name == "chat" else None)


def generate(suites: str | list[str], out: str | os.PathLike, decoding: Decoding, *, model: str | None = None,
             adapter=None, prompt_format: str | None = None, allow_format_mismatch: bool = False,
             batch_size: int = 16, limit_per_suite: Limit = None, seed: int = 0, backend: str = "hf",
             data_dir=None, progress: str | None = None, _backend=None) -> dict[str, Path]:
    """Generate for every suite; returns {suite: jsonl path}. Inputs are validated before any output.
    ``progress``: a label to show progress under (prompts done / total, tokens/s, ETA)."""
    if batch_size <= 0:
        raise SafemixError(f"batch_size must be > 0, got {batch_size}")
    loaded = load_suites(suites, data_dir)
    be, info, fmt = _backend or load_backend(model, adapter, prompt_format, allow_format_mismatch, backend)
    out = Path(out)
    clear_done(out)
    paths, counts = {}, {}
    chosen = {name: subsample(suite.records, limit_per_suite, seed) for name, suite in loaded.items()}
    ticker = Ticker(progress or "generate", sum(map(len, chosen.values())), "prompts", enabled=bool(progress))
    for name, prompts in chosen.items():
        formatted = [fmt.render(p.prompt, p.input, getattr(be, "tok", None)) for p in prompts]
        keys = [record_key(info["model_fingerprint"], info["adapter_fingerprint"], f, decoding.to_dict()) for f in formatted]
        store = SuiteStore(generation_file(out, name))
        todo = [i for i, k in enumerate(keys) if not store.has(k)]
        ticker.skip(len(keys) - len(todo))  # answered by an earlier, interrupted call
        lengths = be.count_tokens([formatted[i] for i in todo]) if todo else []
        todo = [i for _, i in sorted(zip(lengths, todo), key=lambda x: -x[0])]
        for start in range(0, len(todo), batch_size):
            idx = todo[start:start + batch_size]
            results = be.generate([formatted[i] for i in idx], decoding)
            store.add([_record(prompts[i], formatted[i], keys[i], r, decoding, info) for i, r in zip(idx, results)])
            ticker.advance(len(idx), tokens=sum(r.output_tokens for r in results), suite=name)
        paths[name] = store.path
        counts[name] = len(store.finalise(keys))
    ticker.close()
    mark_done(out, "generate", records=counts, decoding=decoding.to_dict())
    return paths


def _record(p: EvalPrompt, formatted: str, key: str, r, d: Decoding, info: dict) -> dict:
    return GenerationRecord(suite=p.suite, id=p.id, prompt=p.prompt, input=p.input, label=p.label, type=p.type,
                            formatted_input=formatted, output=r.text, finish_reason=r.finish_reason,
                            prompt_tokens=r.prompt_tokens, output_tokens=r.output_tokens, decoding=d.to_dict(),
                            key=key, **info).dump()

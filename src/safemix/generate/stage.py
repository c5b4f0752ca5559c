"""``generate()``: answers of a base model or a trained adapter to eval suites, cached and resumable."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

from ..artifacts import GenerationRecord, generation_file
from ..data.load import load_suites
from ..data.records import EvalPrompt
from ..data.registry import SPLIT_SUITES, attacked_suite, is_harmful, report_group, split_suite
from ..data.select import hash_order
from ..errors import SafemixError
from ..formats import get_format
from ..markers import clear_done, mark_done
from ..models import load_tokenizer
from ..models.trained import load_merged, model_info, resolve_trained
from ..progress import Ticker
from ..store import SuiteStore, record_key
from .attacks import check_attacks, get_attack
from .presets import MAX_BATCH, Decoding

Limit = int | dict[str, int] | None
CPU = "cpu/float32"


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


def load_backend(model: str | None, adapter, prompt_format: str | None, allow_format_mismatch: bool,
                 backend: str = "hf", trust_remote_code: bool = False, bf16: str = "auto", engine: dict | None = None):
    """Resolve model + adapter and the prompt format; returns (backend, info for records).
    ``bf16`` (transformers backend): auto, true or false, see ``compute_device``."""
    spec, ref, manifest, weights, trained_fmt = resolve_trained(model, adapter)
    fmt_name = prompt_format or trained_fmt or "alpaca"
    mismatch = trained_fmt is not None and fmt_name != trained_fmt
    if mismatch and not allow_format_mismatch:
        raise SafemixError(f"adapter {adapter} was trained with prompt format '{trained_fmt}', not '{fmt_name}' "
                           f"(pass --allow-format-mismatch to generate anyway)")
    info = {**model_info(spec, ref, adapter, weights, manifest.get("kind"), manifest), "prompt_format": fmt_name,
            "format_mismatch": mismatch}
    if backend == "vllm":
        if manifest.get("reference"):
            raise SafemixError(f"adapter {adapter} is a DPO adapter over another adapter, which vLLM cannot stack; "
                               f"use the transformers backend (hf)")
        if bf16 != "auto":
            raise SafemixError(f"bf16={bf16}: the precision setting is the transformers backend's (vLLM chooses its own)")
        from .vllm import VLLMBackend

        if manifest.get("kind") == "full":
            return VLLMBackend(str(weights), None, base=False, **(engine or {})), info, _fmt(fmt_name, ref, trust_remote_code)
        return VLLMBackend(ref.path, weights, **(engine or {})), info, _fmt(fmt_name, ref, trust_remote_code)
    if backend != "hf":
        raise SafemixError(f"unknown backend '{backend}' (known: hf, vllm)")
    from .hf import HFBackend

    tok = load_tokenizer(ref, trust_remote_code)
    fmt = get_format(fmt_name, tok)
    device, dtype = compute_device(bf16)
    info["compute"] = f"{device}/{str(dtype).removeprefix('torch.')}"
    return HFBackend(load_merged(ref, manifest, weights, trust_remote_code, dtype).to(device), tok, fmt), info, fmt


BF16_CHOICES = ("auto", "true", "false")


def check_bf16(bf16: str) -> None:
    if bf16 not in BF16_CHOICES:
        raise SafemixError(f"bf16={bf16!r}: use {', '.join(BF16_CHOICES)}")


def compute_device(bf16: str = "auto"):
    """(device, dtype) the transformers backend runs on: the GPU when there is one, else the CPU.
    ``SAFEMIX_DEVICE`` (cpu or cuda) overrides the device. ``bf16``: ``auto`` is bf16 on a GPU (fp16
    on a GPU without bf16) and fp32 on the CPU; ``true`` is bf16 on either (opt-in on the CPU: 2-3x
    faster where the CPU has bf16 instructions, answers not identical to fp32's); ``false`` is fp32."""
    import torch

    check_bf16(bf16)
    asked = os.environ.get("SAFEMIX_DEVICE", "").strip().lower()
    if asked not in ("", "cpu", "cuda"):
        raise SafemixError(f"SAFEMIX_DEVICE={asked!r}: use cpu or cuda (or leave it unset to use a GPU when there is one)")
    if asked == "cuda" and not torch.cuda.is_available():
        raise SafemixError("SAFEMIX_DEVICE=cuda but torch sees no CUDA GPU here")
    device = "cuda" if asked != "cpu" and torch.cuda.is_available() else "cpu"
    if bf16 == "true":
        return device, torch.bfloat16
    if bf16 == "false" or device == "cpu":
        return device, torch.float32
    return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _fmt(name, ref, trust_remote_code):
    return get_format(name, load_tokenizer(ref, trust_remote_code) if name == "chat" else None)


def generate(suites: str | list[str], out: str | os.PathLike, decoding: Decoding, *, model: str | None = None,
             adapter=None, prompt_format: str | None = None, allow_format_mismatch: bool = False,
             batch_size: int = 16, limit_per_suite: Limit = None, seed: int = 0, backend: str = "hf",
             bf16: str = "auto", data_dir=None, progress: str | None = None, attacks: list[str] = (),
             attack_suites: list[str] | None = None, engine: dict | None = None, _backend=None) -> dict[str, Path]:
    """Generate for every suite; returns {suite: jsonl path}. Inputs are validated before any output.
    ``bf16``: auto, true or false (``compute_device``). ``progress``: a label to show progress under
    (prompts done / total, tokens/s, ETA). ``attacks``: jailbreak attacks (generate/attacks.py) applied to the
    chosen harmful prompts (of ``attack_suites``, default every harmful suite), each filed as ``SUITE@ATTACK``."""
    if not 0 < batch_size <= MAX_BATCH:
        raise SafemixError(f"batch_size must be between 1 and {MAX_BATCH:,}, got {batch_size:,}")
    check_bf16(bf16)
    attack_list = [get_attack(a) for a in check_attacks(list(attacks))]
    loaded = load_suites(suites, data_dir)
    targets = attack_targets(list(loaded), attack_suites) if attack_list else set()
    be, info, fmt = _backend or load_backend(model, adapter, prompt_format, allow_format_mismatch, backend, bf16=bf16,
                                             engine=engine)
    out = Path(out)
    clear_done(out)
    paths, counts = {}, {}
    chosen = {name: subsample(suite.records, limit_per_suite, seed) for name, suite in loaded.items()}
    for a in attack_list:  # the same harmful prompts, attacked: each answer pairs with its un-attacked one
        for name in [n for n in chosen if n in targets]:
            harmful = [p for p in chosen[name] if is_harmful(report_group(p.suite, p.label))]
            chosen[attacked_suite(name, a.name)] = [
                replace(p, prompt=a.apply(p.prompt), suite=attacked_suite(p.suite, a.name)) for p in harmful]
    ticker = Ticker(progress or "generate", sum(map(len, chosen.values())), "prompts", enabled=bool(progress))
    # answers computed on a GPU or in bf16 are cached apart from the CPU's fp32 ones (CPU keys unchanged)
    keyed = decoding.to_dict() | ({"compute": info["compute"]} if info.get("compute", CPU) != CPU else {})
    formatted, keys, stores, todo = {}, {}, {}, []
    for name, prompts in chosen.items():
        formatted[name] = [fmt.render(p.prompt, p.input, getattr(be, "tok", None)) for p in prompts]
        keys[name] = distinct_keys([record_key(info["model_fingerprint"], info["adapter_fingerprint"], f, keyed)
                                    for f in formatted[name]], [p.id for p in prompts])
        stores[name] = SuiteStore(generation_file(out, name))
        left = [i for i, k in enumerate(keys[name]) if not stores[name].has(k)]
        ticker.skip(len(keys[name]) - len(left))  # answered by an earlier, interrupted call
        todo += zip(be.count_tokens([formatted[name][i] for i in left]) if left else [], [name] * len(left), left)
    # every suite's prompts in one length-sorted queue, cut into batches of equal size, so that short suites do not
    # each make a small batch. A row's answer depends on its batch only through float rounding: 240 prompts gave
    # the same greedy answers in batches of 60, 120 and 240, and 579 of the quickstart's 580 answers are those of
    # batching each suite apart (one near-tie flipped; bench/quickstart_generation.py). batch_size is in the key
    todo.sort(key=lambda x: -x[0])
    for batch in even_batches(todo, batch_size):
        results = be.generate([formatted[name][i] for _, name, i in batch], decoding)
        for name in dict.fromkeys(name for _, name, _ in batch):
            stores[name].add([_record(chosen[name][i], formatted[name][i], keys[name][i], r, decoding, info)
                              for (_, n, i), r in zip(batch, results) if n == name])
        ticker.advance(len(batch), tokens=sum(r.output_tokens for r in results), suite=batch[-1][1])
    for name, store in stores.items():
        paths[name] = store.path
        counts[name] = len(store.finalise(keys[name]))
    ticker.close()
    mark_done(out, "generate", records=counts, decoding=decoding.to_dict())
    return paths


def even_batches(items: list, most: int) -> list[list]:
    """``items`` in order, cut into the fewest batches of at most ``most``, their sizes as equal as they can be."""
    n = -(-len(items) // most)
    return [items[len(items) * b // n:len(items) * (b + 1) // n] for b in range(n)]


def distinct_keys(keys: list[str], ids: list[str]) -> list[str]:
    """One record per prompt: a prompt whose formatted input repeats an earlier prompt's in the same suite (the
    paper's I-MaliciousInstructions asks one question twice) gets its own key, the shared key and its id hashed,
    instead of sharing, and overwriting, the earlier prompt's record."""
    seen: set[str] = set()
    out = []
    for key, pid in zip(keys, ids):
        if key in seen:
            key = hashlib.sha256(f"{key}\0{pid}".encode()).hexdigest()
        seen.add(key)
        out.append(key)
    return out


def _record(p: EvalPrompt, formatted: str, key: str, r, d: Decoding, info: dict) -> dict:
    attack = split_suite(p.suite)[1]
    return GenerationRecord(suite=p.suite, id=p.id, prompt=p.prompt, input=p.input, label=p.label, type=p.type,
                            formatted_input=formatted, output=r.text, finish_reason=r.finish_reason,
                            prompt_tokens=r.prompt_tokens, output_tokens=r.output_tokens, decoding=d.to_dict(),
                            key=key, **info, **({"attack": attack} if attack else {})).dump()


def attack_targets(loaded: list[str], asked: list[str] | None) -> set[str]:
    """The loaded suites whose harmful prompts are attacked: ``asked`` (each must be a harmful suite of the run),
    else every suite with harmful prompts."""
    harmful = {n for n in loaded if is_harmful(n) or n in SPLIT_SUITES}
    if asked is None:
        return harmful
    by_lower = {n.lower(): n for n in loaded}
    out = set()
    for name in asked:
        real = by_lower.get(name.lower())
        if real is None:
            raise SafemixError(f"attack_suites: '{name}' is not among the suites generated ({', '.join(loaded)})")
        if real not in harmful:
            raise SafemixError(f"attack_suites: '{name}' is not a harmful suite (attacks apply to harmful prompts only; "
                               f"harmful here: {', '.join(sorted(harmful)) or 'none'})")
        out.add(real)
    return out

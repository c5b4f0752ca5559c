"""``evaluate_capability()``: a base model + adapter through EleutherAI's lm-evaluation-harness.

The paper measured PIQA, BoolQ and OpenBookQA with the harness (re-implemented scoring gave a
seed-repo user BoolQ ~50% instead of ~77%), so scoring is left to the harness: safemix only loads
the model (LoRA merged), hands it over, and writes one JSON of scores with their standard errors.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..artifacts import CapabilityResult
from ..errors import SafemixError
from ..fileio import atomic_write_json
from .tasks import TaskSpec, materialise, parse_tasks

INSTALL = "capability evaluation needs EleutherAI's lm-evaluation-harness: pip install 'safemix[lmeval]'"


def _harness():
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise SafemixError(INSTALL) from None
    return lm_eval, TaskManager


def task_manager(specs: list[TaskSpec]):
    """A TaskManager that knows the local tasks; unknown or unreachable harness tasks fail here, by name."""
    lm_eval, TaskManager = _harness()
    include, digests = materialise(specs)
    remote = [s.name for s in specs if not s.local]
    tm = TaskManager(include_path=str(include) if include else None, include_defaults=bool(remote), verbosity="ERROR")
    for name in remote:
        if name not in tm.all_tasks:
            raise SafemixError(f"unknown lm-eval task '{name}' (for local data give NAME=items.jsonl)")
        try:
            tm.load_task_or_group([name])
        except Exception as exc:  # the harness raises whatever `datasets` raised
            raise SafemixError(f"lm-eval task '{name}': cannot get its data ({str(exc).splitlines()[0]}); without "
                               f"internet, give a local multiple-choice file instead: {name}=items.jsonl") from None
    return lm_eval, tm, digests


def evaluate_capability(tasks: str | list[str], out: str | os.PathLike, *, model: str | None = None, adapter=None,
                        num_fewshot: int = 0, limit: int | None = None, batch_size: int = 8,
                        device: str | None = None, trust_remote_code: bool = False) -> dict:
    """Score model (+ adapter) on the tasks; writes ``out`` (JSON) atomically and returns it."""
    import torch

    from ..models.attention import attention_kernels
    from ..models.cpu_matmul import onednn_linears
    from ..models.trained import load_model

    specs = parse_tasks(tasks)
    lm_eval, tm, digests = task_manager(specs)  # every check before the model loads
    from lm_eval.models.huggingface import HFLM

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else None
    lm, tok, info = load_model(model, adapter, trust_remote_code, dtype=dtype)
    hflm = HFLM(pretrained=lm.to(device).eval(), tokenizer=tok, batch_size=batch_size, device=device)
    started = time.time()
    with attention_kernels(torch.device(device).type), onednn_linears(lm):
        res = lm_eval.simple_evaluate(model=hflm, tasks=[s.name for s in specs], task_manager=tm,
                                      num_fewshot=num_fewshot, limit=limit, log_samples=False, bootstrap_iters=1000,
                                      verbosity="ERROR")
    scores = {s.name: _scores(res, s, digests.get(s.name)) for s in specs}
    doc = {**info, "tasks": scores, "device": device, "dtype": str(lm.dtype).removeprefix("torch."),
           "num_fewshot": num_fewshot, "limit": limit, "lm_eval_version": getattr(lm_eval, "__version__", None),
           "seconds": round(time.time() - started, 1)}
    atomic_write_json(Path(out), CapabilityResult(**doc).dump())
    return doc


def _scores(res: dict, spec: TaskSpec, sha256: str | None) -> dict:
    raw = res["results"][spec.name]
    out = {"source": str(spec.path) if spec.local else "lm-eval", "sha256": sha256,
           "n": res.get("n-samples", {}).get(spec.name, {}).get("effective")}
    for key, value in raw.items():
        metric, _, filt = key.partition(",")
        if isinstance(value, (int, float)) and filt in ("none", "") and metric not in ("sample_len",):
            out[metric] = float(value)
    return out

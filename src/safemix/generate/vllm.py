"""The vLLM backend (extra ``[vllm]``): one engine per base model per process serves every point of a
sweep, each point's adapter attached per request with ``LoRARequest`` -- the base model loads once,
not once per point. Engine sharing and request building are plain Python, tested without vLLM (no
GPU here); the engine itself is vLLM's."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import MissingExtraError
from .hf import Completion
from .presets import Decoding


def lora_request_args(adapter_dir: str | Path) -> dict:
    """Arguments of ``vllm.lora.request.LoRARequest``: a stable name and positive int id per adapter."""
    path = str(Path(adapter_dir).resolve())
    digest = hashlib.sha256(path.encode()).hexdigest()
    return {"lora_name": f"adapter-{digest[:12]}", "lora_int_id": int(digest[:7], 16) + 1, "lora_path": path}


def sampling_args(d: Decoding) -> tuple[str, dict]:
    """(kind, kwargs): ``beam`` -> ``BeamSearchParams``, ``sample`` -> ``SamplingParams``."""
    if d.num_beams > 1:
        return "beam", {"beam_width": d.num_beams, "max_tokens": d.max_new_tokens}
    if d.do_sample:
        return "sample", {"max_tokens": d.max_new_tokens, "temperature": d.temperature, "top_p": d.top_p,
                          "top_k": d.top_k or -1, "seed": d.seed}
    return "sample", {"max_tokens": d.max_new_tokens, "temperature": 0.0}


_ENGINES: dict[tuple, object] = {}  # one engine per base model in this process, shared by every point


def engine(model_path: str, lora: bool, max_lora_rank: int = 64, factory=None, **llm_kwargs):
    """The process's engine for ``model_path``: created once, then reused by every later generate step
    of the sweep (each point's adapter goes with its requests). A base model's engine always has
    LoRA enabled, so that points with and without adapters share it; a full fine-tune is its own
    model (``lora`` False) and gets its own engine. ``factory``: ``vllm.LLM`` unless given."""
    key = (str(model_path), lora, max_lora_rank, tuple(sorted(llm_kwargs.items())))
    if key not in _ENGINES:
        if factory is None:
            try:
                from vllm import LLM as factory
            except ImportError:
                raise MissingExtraError("vllm", "vllm") from None
        extra = {"enable_lora": True, "max_lora_rank": max_lora_rank} if lora else {}
        _ENGINES[key] = factory(model=str(model_path), **extra, **llm_kwargs)
    return _ENGINES[key]


def release_engines() -> int:
    """Shut down every engine this process holds and give their GPU memory back (a step ends: the judges, lm-eval
    or the next training need it). Returns how many were released. Not yet run on a GPU (none was lent here)."""
    import gc

    n = len(_ENGINES)
    for llm in list(_ENGINES.values()):
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        shutdown = getattr(core, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except Exception:  # an engine that is already gone
                pass
    _ENGINES.clear()
    try:
        from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

        destroy_model_parallel()
        destroy_distributed_environment()
    except Exception:  # vLLM absent, or nothing to destroy
        pass
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
    return n


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_path: str, adapter_dir: str | Path | None, max_lora_rank: int = 64, base: bool = True,
                 **llm_kwargs):
        """``base``: ``model_path`` is a base model that adapters attach to (False: a full fine-tune)."""
        self.llm = engine(model_path, base, max_lora_rank, **llm_kwargs)
        self.tok = self.llm.get_tokenizer()
        self.adapter_dir = adapter_dir

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(self.tok(t)["input_ids"]) for t in texts]

    def generate(self, prompts: list[str], d: Decoding) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.lora.request import LoRARequest

        lora = LoRARequest(**lora_request_args(self.adapter_dir)) if self.adapter_dir else None
        kind, kwargs = sampling_args(d)
        if kind == "beam":
            from vllm.sampling_params import BeamSearchParams

            outs = self.llm.beam_search([{"prompt": p} for p in prompts], BeamSearchParams(**kwargs), lora_request=lora)
            return [Completion(o.sequences[0].text.strip(), "eos" if o.sequences[0].finish_reason == "stop" else "length",
                               len(self.tok(p)["input_ids"]), len(o.sequences[0].tokens)) for p, o in zip(prompts, outs)]
        outs = self.llm.generate(prompts, SamplingParams(**kwargs), lora_request=lora)
        return [Completion(o.outputs[0].text.strip(), "eos" if o.outputs[0].finish_reason == "stop" else "length",
                           len(o.prompt_token_ids), len(o.outputs[0].token_ids)) for o in outs]

"""The vLLM backend (extra ``[vllm]``): one base model serves every point of a sweep, each adapter
attached per request with ``LoRARequest``. Request building is plain Python and tested without vLLM."""

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


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_path: str, adapter_dir: str | Path | None, max_lora_rank: int = 64, **llm_kwargs):
        try:
            from vllm import LLM
        except ImportError:
            raise MissingExtraError("vllm", "vllm") from None
        self.llm = LLM(model=model_path, enable_lora=adapter_dir is not None, max_lora_rank=max_lora_rank, **llm_kwargs)
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

"""The transformers backend: left-padded, length-sorted batches; the adapter merged for speed."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..formats import PromptFormat
from .presets import Decoding


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # eos | length
    prompt_tokens: int
    output_tokens: int


class HFBackend:
    name = "hf"

    def __init__(self, model, tokenizer, fmt: PromptFormat):
        self.model, self.tok, self.fmt = model.eval(), tokenizer, fmt
        self.tok.padding_side = "left"
        eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None else tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(x) for x in self.tok(texts, add_special_tokens=self.fmt.adds_special_tokens)["input_ids"]]

    def _config(self, d: Decoding):
        from transformers import GenerationConfig

        kw = dict(max_new_tokens=d.max_new_tokens, num_beams=d.num_beams, do_sample=d.do_sample,
                  eos_token_id=sorted(self.eos_ids), pad_token_id=self.tok.pad_token_id)
        if d.do_sample:
            kw.update(temperature=d.temperature, top_p=d.top_p, top_k=d.top_k or 0)
        return GenerationConfig(**kw)

    @torch.inference_mode()
    def generate(self, prompts: list[str], d: Decoding) -> list[Completion]:
        enc = self.tok(prompts, add_special_tokens=self.fmt.adds_special_tokens, padding=True, return_tensors="pt")
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        if d.do_sample and d.seed is not None:
            torch.manual_seed(d.seed)
        out = self.model.generate(**enc, generation_config=self._config(d))
        new = out[:, enc["input_ids"].shape[1]:].tolist()
        lengths = enc["attention_mask"].sum(1).tolist()
        results = []
        for row, n_prompt in zip(new, lengths):
            stop = next((i for i, t in enumerate(row) if t in self.eos_ids), None)
            toks = row if stop is None else row[:stop]
            results.append(Completion(self.tok.decode(toks, skip_special_tokens=True).strip(),
                                      "length" if stop is None else "eos", int(n_prompt), len(toks)))
        return results

"""Tokenised training examples with exact label masks.

Prompt and response are tokenised separately and concatenated, so the boundary is exact: labels are
-100 on every prompt token (unless ``train_on_inputs``), the response tokens, then EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.records import Instruction
from ..formats import PromptFormat

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Example:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def encode_example(rec: Instruction, fmt: PromptFormat, tokenizer, cutoff_len: int,
                   train_on_inputs: bool = False, add_eos: bool = True) -> Example | None:
    """One example, or None when truncation leaves no response token to learn from."""
    prompt = fmt.render(rec.instruction, rec.input, tokenizer)
    p_ids = tokenizer(prompt, add_special_tokens=fmt.adds_special_tokens)["input_ids"]
    r_ids = tokenizer(rec.output, add_special_tokens=False)["input_ids"]
    if add_eos:
        r_ids = r_ids + [tokenizer.eos_token_id]
    ids = (p_ids + r_ids)[:cutoff_len]
    labels = (([IGNORE] * len(p_ids) if not train_on_inputs else p_ids) + r_ids)[:cutoff_len]
    if all(label == IGNORE for label in labels[1:]):
        return None
    return Example(ids, labels)


def encode_all(records: list[Instruction], fmt: PromptFormat, tokenizer, cutoff_len: int,
               train_on_inputs: bool = False, add_eos: bool = True) -> tuple[list[Example], int]:
    """Encoded examples and the number dropped for having no response left after truncation."""
    out = [encode_example(r, fmt, tokenizer, cutoff_len, train_on_inputs, add_eos) for r in records]
    kept = [e for e in out if e is not None]
    return kept, len(out) - len(kept)

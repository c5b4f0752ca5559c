"""LoRA dropout with cheap masks.

PEFT drops LoRA's input with ``nn.Dropout``, which on the CPU draws one random number per element from
PyTorch's generator, one at a time and on one thread: on the quickstart's setup (LoRA on all seven
projections of a 135M model) that took 14.5% of training's CPU time, and 25% with gradient checkpointing
(which draws each mask again when it recomputes a layer). ``WordDropout`` draws a 64-bit random word per four elements and
compares each 16-bit slice of it with a threshold: the same Bernoulli(1 - p) keep mask (p rounded to a
multiple of 1/65,536: 0.05 becomes 0.050003), scaled by 1 / (1 - p), about 8x fewer draws from the same
generator (so resuming, which restores that generator's state, continues the same stream).

The masks differ from ``nn.Dropout``'s, so adapters differ: ``TrainConfig.dropout_masks`` selects it (and is
in the step key); ``torch`` keeps PEFT's own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

SLICES = 65_536  # values of one 16-bit slice


def drop_threshold(p: float) -> int:
    """A slice (as int16, uniform on [-32768, 32767]) below this is dropped: P = round(p * 65536) / 65536."""
    return -SLICES // 2 + round(p * SLICES)


def _slices(n: int, device) -> torch.Tensor:
    """``n`` random int16 values: the 16-bit slices of ``ceil(n / 4)`` random 64-bit words from the default generator."""
    count = (n + 3) // 4
    if torch.device(device).type == "cpu":
        # the same words as randint's below, without its 64-bit modulo per word (13% faster): randint returns
        # (r % (2**64 - 1)) - 2**63, which is r with its top bit flipped for every r but 2**64 - 1
        words = torch.empty(count, dtype=torch.int64).random_(-2 ** 63, None)
        words ^= -2 ** 63
    else:
        words = torch.randint(-2 ** 63, 2 ** 63 - 1, (count,), dtype=torch.int64, device=device)
    return words.view(torch.int16)[:n]


def word_mask(shape: torch.Size, p: float, device) -> torch.Tensor:
    """A boolean tensor of ``shape``, True where an element is dropped (each with probability ~p, independent)."""
    return (_slices(math.prod(shape), device) < drop_threshold(p)).view(shape)


def keep_mask(shape: torch.Size, p: float, device) -> torch.Tensor:
    """The complement of :func:`word_mask` from the same draws: True where an element is kept."""
    return (_slices(math.prod(shape), device) >= drop_threshold(p)).view(shape)


class WordDropout(nn.Module):
    """Inverted dropout (like ``nn.Dropout``: scaled by 1 / (1 - p) while training, identity in eval mode)
    whose masks come from 16-bit slices of random words."""

    def __init__(self, p: float):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), not {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x.masked_fill(word_mask(x.shape, self.p, x.device), 0) * (1 / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def use_word_dropout(model: nn.Module) -> int:
    """Swap every LoRA layer's ``nn.Dropout`` (PEFT's ``lora_dropout`` dicts) for a ``WordDropout`` of the same
    p; returns how many were swapped."""
    swapped = 0
    for module in model.modules():
        drops = getattr(module, "lora_dropout", None)
        if not isinstance(drops, nn.ModuleDict):
            continue
        for name, drop in list(drops.items()):
            if isinstance(drop, nn.Dropout) and drop.p > 0:
                drops[name] = WordDropout(drop.p)
                swapped += 1
    return swapped

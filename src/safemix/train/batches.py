"""Micro-batch planning: length-grouped (little padding) or plain, deterministic per (seed, epoch)."""

from __future__ import annotations

import torch

from .examples import IGNORE, Example

MEGABATCH = 32  # micro-batches whose examples are sorted together when grouping by length


def plan_epoch(lengths: list[int], micro: int, seed: int, epoch: int, group_by_length: bool) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    perm = torch.randperm(len(lengths), generator=g).tolist()
    if not group_by_length:
        return [perm[i:i + micro] for i in range(0, len(perm), micro)]
    batches: list[list[int]] = []
    span = micro * MEGABATCH
    for start in range(0, len(perm), span):
        chunk = sorted(perm[start:start + span], key=lambda i: -lengths[i])
        batches += [chunk[i:i + micro] for i in range(0, len(chunk), micro)]
    order = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in order]


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padding never carries a label."""
    width = max(len(e) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def label_tokens(examples: list[Example]) -> int:
    """Tokens that carry a loss (positions 1..n with a label)."""
    return sum(sum(1 for label in e.labels[1:] if label != IGNORE) for e in examples)

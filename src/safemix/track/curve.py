"""A training's loss curve as trackers log it: the numbers of each ``train_log.jsonl`` row."""

from __future__ import annotations

import json
from pathlib import Path

from .base import metric_name


def curve_values(row: dict) -> dict[str, float]:
    """The tracked values of one ``train_log.jsonl`` row (loss, learning rate, tokens/s, val loss)."""
    return {metric_name("train", k): v for k, v in row.items()
            if k in ("loss", "lr", "tokens_per_s", "val_loss") and isinstance(v, (int, float))}


def train_curve(log: Path) -> list[tuple[int, dict[str, float]]]:
    out = []
    for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a torn last line of a killed run
        values = curve_values(row)
        if values and isinstance(row.get("step"), int):
            out.append((row["step"], values))
    return out

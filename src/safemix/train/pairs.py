"""The k safety preference pairs of a DPO point: drawn from a preference set, or derived from the safety
demonstrations the SFT mixture at the same k adds (chosen = the demonstration's refusal, rejected = the k=0
model's own answer to the same instruction). Both are nested and seeded like the demonstrations: the pairs
of a smaller k are a prefix of a larger k's."""

from __future__ import annotations

import json
from pathlib import Path

from ..data.records import Instruction, PreferencePair
from ..data.select import get_strategy, hash_order
from ..errors import SafemixError
from ..fileio import atomic_write_json, atomic_write_text

PAIRS_FILE = "pairs.jsonl"
PAIRS_MANIFEST = "pairs.json"  # written last: the step's marker


def safety_demonstrations(safety: list[Instruction], k: int, seed: int, strategy: str) -> list[Instruction]:
    """The k demonstrations the SFT mixture at (k, seed) adds, in the same nested order."""
    if k > len(safety):
        raise SafemixError(f"k={k} but the safety set has {len(safety)} examples")
    return [safety[i] for i in get_strategy(strategy)(safety, seed, k, embed=None)[:k]]


def draw_pairs(pairs: list[PreferencePair], k: int, seed: int) -> list[PreferencePair]:
    """k pairs of a preference set, a seeded order's prefix (nested over k)."""
    if k > len(pairs):
        raise SafemixError(f"k={k} but the preference set has {len(pairs)} pairs")
    return [pairs[i] for i in hash_order(pairs, seed, "safety-pairs")[:k]]


def derive_pairs(demos: list[Instruction], answers: list[str]) -> list[PreferencePair]:
    """Each demonstration's refusal preferred over the k=0 model's answer; a pair whose two answers are
    the same text is left out (nothing to prefer)."""
    return [PreferencePair(d.instruction, d.output, a, d.id, input=d.input)
            for d, a in zip(demos, answers, strict=True) if a.strip() and a.strip() != d.output.strip()]


def write_pairs(folder: Path, pairs: list[PreferencePair], manifest: dict) -> None:
    """The pairs file, then its manifest (the marker), each atomically."""
    rows = [{"id": p.id, "prompt": p.prompt, "input": p.input, "chosen": p.chosen, "rejected": p.rejected}
            for p in pairs]
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / PAIRS_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    atomic_write_json(folder / PAIRS_MANIFEST, {**manifest, "pairs": len(pairs)})

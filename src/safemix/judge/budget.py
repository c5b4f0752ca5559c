"""An expensive judge on a budget: which answers it sees.

The sample is stratified over (k, seed, suite): in each stratum the ``fraction`` of answers whose
hash (with the budget's seed) ranks lowest, at least two, so every point and suite gets its share
and the choice is the same whichever process judges which point. The report combines the cheap
judge on every answer with the expensive one on the sample (``stats.ppi_mean``).
"""

from __future__ import annotations

import hashlib
import math


def budget_sample(ids: list[str], fraction: float, seed: int, stratum: str) -> set[str]:
    """The ids of one stratum that the expensive judge sees."""
    if not ids:
        return set()
    rank = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}\0{stratum}\0{i}".encode()).hexdigest())
    return set(rank[:min(len(ids), max(2, math.ceil(fraction * len(ids))))])

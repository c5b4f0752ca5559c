"""Side-by-side timing that a noisy machine cannot bias: the legs of a comparison run interleaved
(A, B, then B, A, ...) over several repeats, and the ratio is reported as the median of the per-repeat
ratios with its spread. Also the machine's measured fp32 matmul peak, to state a share of it."""

from __future__ import annotations

import statistics
import time

import torch


def interleaved(legs: dict, repeats: int) -> dict[str, list]:
    """Run each leg ``repeats`` times, alternating which goes first; {leg: [its results in order]}.
    A leg is a function of the repeat index returning whatever it measured."""
    names = list(legs)
    out: dict[str, list] = {n: [] for n in names}
    for r in range(repeats):
        for n in (names if r % 2 == 0 else names[::-1]):
            out[n].append(legs[n](r))
    return out


def spread(ratios: list[float]) -> dict:
    return {"median": round(statistics.median(ratios), 2), "min": round(min(ratios), 2), "max": round(max(ratios), 2),
            "repeats": len(ratios)}


def matmul_peak_gflops(n: int = 2048, tries: int = 5) -> float:
    """Best fp32 matmul throughput of this machine, in GFLOP/s (2 n^3 flops per n x n product)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm up
    best = float("inf")
    for _ in range(tries):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9

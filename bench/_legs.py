"""Side-by-side timing that a noisy machine cannot bias: the legs of a comparison run interleaved
(A, B, then B, A, ...) over several repeats, and the ratio is reported as the median of the per-repeat
ratios with its spread. Also the machine's measured fp32 matmul peak, to state a share of it: the faster of
PyTorch's two CPU kernels, MKL (``torch.mm``) and oneDNN (what safemix's linear layers use on the CPU,
models/cpu_matmul.py); on an AMD CPU with AVX-512 MKL runs its AVX2 code and reaches about half of oneDNN."""

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


def kernel_peaks_gflops(n: int = 2048, tries: int = 5) -> dict[str, float]:
    """{kernel: best fp32 GFLOP/s of an n x n product (2 n^3 flops)}: ``mkl`` (``torch.mm``) and, where
    PyTorch has it, ``onednn`` (its linear op, as safemix runs linear layers on the CPU). The machine's
    peak is the larger."""
    from safemix.models.cpu_matmul import onednn_linear, onednn_linear_available

    a, b = torch.randn(n, n), torch.randn(n, n)
    kernels = {"mkl": lambda: torch.mm(a, b)}
    if onednn_linear_available():
        kernels["onednn"] = lambda: onednn_linear(a, b, None)
    out = {}
    for name, f in kernels.items():
        f()  # warm up
        best = float("inf")
        for _ in range(tries):
            t = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t)
        out[name] = round(2 * n ** 3 / best / 1e9, 1)
    return out

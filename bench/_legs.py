"""Side-by-side timing that a noisy machine cannot bias: the legs of a comparison run interleaved
(A, B, then B, A, ...) over several repeats, and the ratio is reported as the median of the per-repeat
ratios with its spread. Also the machine's measured fp32 matmul peak, to state a share of it: the faster of
PyTorch's two CPU kernels, MKL (``torch.mm``) and oneDNN (what safemix's linear layers use on the CPU,
models/cpu_matmul.py); on an AMD CPU with AVX-512 MKL runs its AVX2 code and reaches about half of oneDNN."""

from __future__ import annotations

import copy
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


def with_levers(backend, **values):
    """The same backend (the same model object) with some of its levers set otherwise, for a like-with-like leg;
    the backend itself is left as it was."""
    other = copy.copy(backend)
    for name, value in values.items():
        setattr(other, name, value)
    return other


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


def memory_bandwidth_gbs(n: int = 32 * 2 ** 20, tries: int = 5) -> dict[str, float]:
    """{kernel: best GB/s} of STREAM-like loops over fp32 arrays far larger than the caches (128 MB each at the
    default n): ``copy`` (b = a, 8 bytes per element) and ``triad`` (b = c + 3 a, 12 bytes per element), through
    PyTorch's own kernels with its threads, as the model's memory-bound work runs."""
    a, b, c = torch.rand(n), torch.empty(n), torch.rand(n)
    kernels = {"copy": (lambda: b.copy_(a), 8), "triad": (lambda: torch.add(c, a, alpha=3.0, out=b), 12)}
    out = {}
    for name, (f, bytes_per) in kernels.items():
        f()  # warm up (first touch of b)
        best = float("inf")
        for _ in range(tries):
            t = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t)
        out[name] = round(bytes_per * n / best / 1e9, 1)
    return out


def machine_limits() -> dict:
    """The same run's limits: fp32 matmul peaks (GFLOP/s) and memory bandwidth (GB/s); a leg's figures are set
    against these, so they compare across machine states (a ratio to a baseline with another bottleneck does not)."""
    peaks, bandwidth = kernel_peaks_gflops(), memory_bandwidth_gbs()
    return {"matmul_peak_gflops": max(peaks.values()), "kernel_peaks_gflops": peaks,
            "bandwidth_gbs": max(bandwidth.values()), "stream_gbs": bandwidth}


def roofline(gflops: float, gbs: float, limits: dict) -> dict:
    """Where a leg sits: its achieved GFLOP/s and GB/s, their shares of the run's peak and bandwidth, and the
    limit that binds (the roofline's min(peak, intensity x bandwidth) at the leg's arithmetic intensity)."""
    peak, bw = limits["matmul_peak_gflops"], limits["bandwidth_gbs"]
    intensity = gflops / gbs if gbs else float("inf")  # flops per byte moved
    bound = "compute" if intensity * bw >= peak else "memory"
    ceiling = min(peak, intensity * bw)
    return {"gflops": round(gflops, 1), "gbs": round(gbs, 1), "flops_per_byte": round(intensity, 1),
            "share_of_peak": round(gflops / peak, 3), "share_of_bandwidth": round(gbs / bw, 3), "bound": bound,
            "share_of_roofline": round(gflops / ceiling, 3)}

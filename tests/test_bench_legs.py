"""The benches' machine limits and roofline placement (bench/_legs.py): a figure is set against the same run's
matmul peak and memory bandwidth, and the limit that binds is the roofline's."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from _legs import memory_bandwidth_gbs, roofline, with_levers  # noqa: E402


def test_bandwidth_is_measured_over_arrays_past_the_caches():
    bw = memory_bandwidth_gbs(n=4 * 2 ** 20, tries=2)
    assert set(bw) == {"copy", "triad"} and all(0.1 < v < 10_000 for v in bw.values())


def test_roofline_names_the_binding_limit():
    limits = {"matmul_peak_gflops": 200.0, "bandwidth_gbs": 20.0}
    decode = roofline(2.0, 4.0, limits)  # one row per step: 0.5 flop per byte -> the ceiling is 10 GFLOP/s
    assert decode["bound"] == "memory" and decode["share_of_roofline"] == 0.2 and decode["share_of_bandwidth"] == 0.2
    batched = roofline(100.0, 2.0, limits)  # 50 flops per byte: 1,000 GFLOP/s of bandwidth, capped by the peak
    assert batched["bound"] == "compute" and batched["share_of_roofline"] == batched["share_of_peak"] == 0.5


def test_a_lever_leg_is_a_copy_that_leaves_the_backend_as_it_was():
    class Backend:
        growing_cache = True

        def __init__(self):
            self.model = object()

    be = Backend()
    off = with_levers(be, growing_cache=False)
    assert off.growing_cache is False and off.model is be.model  # the same model object, not a second one
    assert be.growing_cache is True and "growing_cache" not in vars(be)

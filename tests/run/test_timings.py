"""The sweep's ETA comes from measured work per stage, not from counting steps."""

import mmap
import os

from safemix.run.timings import StepTimes


def test_eta_weights_each_remaining_step_by_its_own_stage():
    t = StepTimes()
    t.record("train", "k=0 seed=1", 300.0)
    t.record("judge", "k=0 seed=1", 2.0)
    # two trainings and two judges left: 2 * 300 + 2 * 2, not 4 * mean(300, 2)
    assert t.eta(["train", "judge", "train", "judge"]) == "ETA 0:10:04"


def test_unmeasured_stages_are_named_not_guessed():
    t = StepTimes()
    t.record("generate", "k=0 seed=1", 60.0)
    assert t.eta(["generate", "quality", "capability"]) == "ETA ≥ 0:01:00 (capability, quality not measured yet)"
    assert StepTimes().eta(["train"]) == "" and t.eta([]) == ""
    t.record("mixture", "k=0 seed=1", 0.2)
    assert t.eta(["mixture", "train"]) == ""  # "≥ 0:00:00" would say nothing


def test_previous_call_is_the_basis_until_this_call_measures():
    prior = [{"stage": "train", "point": "k=0 seed=1", "seconds": 100}, {"stage": "train", "seconds": 200},
             {"stage": 3, "seconds": "x"}, "junk"]  # a hand-edited run.json must not break the ETA
    t = StepTimes(prior)
    assert t.eta(["train"]) == "ETA 0:02:30"
    t.record("train", "k=50 seed=1", 10.0)
    assert t.eta(["train"]) == "ETA 0:00:10"


def test_records_carry_memory_and_the_heaviest_step_is_found():
    t = StepTimes()
    assert t.heaviest() is None
    first = t.record("mixture", "k=0 seed=1", 0.1)
    rss_mb = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    # raise this process's peak by 300 MB with fresh pages: an anonymous map, never memory malloc kept from an
    # earlier test (models/cpu_memory.py keeps freed memory, whose pages would not raise the peak)
    _big = mmap.mmap(-1, int(first["peak_rss_mb"] - rss_mb + 300) * 2 ** 20)
    for offset in range(0, len(_big), mmap.PAGESIZE):
        _big[offset] = 1
    second = t.record("train", "k=0 seed=1", 1.0)
    assert second["peak_rss_mb"] >= first["peak_rss_mb"] + 250
    assert t.heaviest() is second

"""Interval and sweet-spot computations on small fixed data."""

import pytest

from safemix.report.stats import pooled_ci, sweet_spot, wilson


def _cell(values_by_seed):
    """{seed: [0/1, ...]} -> {seed: {prompt id: value}}"""
    return {s: {f"p{i}": float(v) for i, v in enumerate(vals)} for s, vals in values_by_seed.items()}


def test_wilson_is_honest_at_the_edges():
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)  # the bootstrap would say [0, 0]
    lo, hi = wilson(20, 20)
    assert hi == 1.0 and lo == pytest.approx(0.8389, abs=1e-4)
    lo, hi = wilson(1, 40)
    assert lo == pytest.approx(0.0044, abs=1e-4) and hi == pytest.approx(0.1288, abs=1e-4)


def test_pooled_ci_never_collapses_and_carries_seed_spread():
    mean, lo, hi, n = pooled_ci(_cell({1: [0] * 50, 2: [0] * 50, 3: [0] * 50}), rate=True)
    assert (mean, lo, n) == (0.0, 0.0, 150) and hi == pytest.approx(wilson(0, 150)[1])
    # same pooled count (30/150) with and without seed-to-seed spread: the spread widens the interval
    even = _cell({s: [1] * 10 + [0] * 40 for s in (1, 2, 3)})
    spread = _cell({1: [1] * 30 + [0] * 20, 2: [0] * 50, 3: [0] * 50})
    m1, lo1, hi1, _ = pooled_ci(even, rate=True)
    m2, lo2, hi2, _ = pooled_ci(spread, rate=True)
    assert m1 == m2 == 0.2
    assert hi2 - lo2 > 1.5 * (hi1 - lo1)
    assert lo1 <= wilson(30, 150)[0] and hi1 >= wilson(30, 150)[1]  # contains the pooled Wilson interval


def test_sweet_spot_smallest_k_meeting_both():
    seeds = (1, 2, 3)
    harm = {0: _cell({s: [1] * 45 + [0] * 5 for s in seeds}),  # 0.90
            100: _cell({s: [1] + [0] * 49 for s in seeds}),  # 0.02
            300: _cell({s: [0] * 50 for s in seeds})}  # 0.00
    safe = {0: _cell({s: [0] * 60 for s in seeds}),  # 0.00
            100: _cell({s: [1] + [0] * 59 for s in seeds}),  # 0.017
            300: _cell({s: [1] * 30 + [0] * 30 for s in seeds})}  # 0.50: too many safe prompts refused
    spot = sweet_spot(harm, safe, target=0.10, tolerance=0.10)
    assert spot["k"] == 100 and spot["ci"] == (100, 100) and spot["share_found"] == 1.0
    # a stricter target that k=100 meets only in some replicates: the interval reaches "none"
    harm[100] = _cell({s: [1] * 5 + [0] * 45 for s in seeds})  # 0.10 exactly
    spot = sweet_spot(harm, safe, target=0.10, tolerance=0.10)
    assert spot["k"] == 100 and spot["ci"][1] is None and 0.2 < spot["share_found"] < 0.9
    # nothing qualifies
    spot = sweet_spot(harm, safe, target=0.01, tolerance=0.01)
    assert spot["k"] is None and spot["ci"] == (None, None) and spot["share_found"] == 0.0


def test_sweet_spot_uses_the_seeds_every_k_has():
    """A sweep run point by point (--only) can have a second seed at some k only: the sweet spot is estimated
    on the seeds answered at every k (a run's report does not fail), and says which."""
    harm = {0: _cell({1: [1] * 50, 2: [1] * 50}), 100: _cell({1: [0] * 50})}
    safe = {0: _cell({1: [0] * 60, 2: [0] * 60}), 100: _cell({1: [0] * 60})}
    spot = sweet_spot(harm, safe, target=0.10, tolerance=0.10)
    assert spot["seeds"] == [1] and spot["k"] == 100
    assert sweet_spot({0: _cell({2: [1] * 5}), 100: _cell({1: [0] * 5})}, {0: _cell({2: [0] * 5}), 100: _cell({1: [0] * 5})})[
        "k"] is None


def test_answer_health_flags():
    from safemix.report.health import health

    rec = lambda out, fin="eos": {"output": out, "finish_reason": fin}  # noqa: E731
    assert health(rec("Paris is the capital of France.")) == {"loop_rate": 0.0, "template_leak_rate": 0.0}
    assert health(rec("I am sorry, I am sorry, I am sorry, I am", "length"))["loop_rate"] == 1.0
    assert health(rec("Sure.\n### Explanation: because"))["template_leak_rate"] == 1.0
    assert health(rec("Sure.<|im_end|>"))["template_leak_rate"] == 1.0
    assert health(rec("Use ### to start a heading in Markdown."))["template_leak_rate"] == 0.0

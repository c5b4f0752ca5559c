"""Prediction-powered estimates: the cheap judge (XSTest's string match) on every answer, the expensive
one (the refusal classifier) on a stratified sample, on real answers (XSTest completions of two
models). Over many samples the interval covers the expensive judge's full-data rate at about its
nominal level and is narrower than the sample-only interval."""

import numpy as np
import pytest

from safemix.judge import get_judge, read_labels
from safemix.judge.budget import budget_sample
from safemix.report.stats import wilson
from safemix.stats import ppi_mean


@pytest.fixture(scope="module")
def judged(shared_data):
    answers = {}
    for m in ("gpt4", "llama2orig"):
        for r in read_labels(shared_data / "xstest" / "completions" / f"xstest_v2_completions_{m}.csv"):
            side = "unsafe" if r["type"].startswith("contrast_") else "safe"
            answers[f"{m}:{r['id']}"] = (r["prompt"], r["response"], f"{m}/{side}")  # stratum: model and side
    ids = sorted(answers)
    pairs = [answers[i][:2] for i in ids]
    refuses = lambda j: {i: float(v.label != "1_full_compliance") for i, v in zip(ids, get_judge(j, data_dir=shared_data).judge(pairs))}  # noqa: E731
    return ids, {i: answers[i][2] for i in ids}, refuses("xstest-strmatch"), refuses("refusal-clf")


def test_ppi_covers_the_expensive_rate_and_beats_the_sample_alone(judged):
    ids, stratum, cheap, expensive = judged
    truth = np.mean(list(expensive.values()))
    strata = {s: [i for i in ids if stratum[i] == s] for s in sorted(set(stratum.values()))}
    cover, ppi_width, sample_width = [], [], []
    for rep in range(300):
        sample = set().union(*(budget_sample(members, 0.1, rep, s) for s, members in strata.items()))
        est, lo, hi = ppi_mean(cheap, {i: expensive[i] for i in sample})
        cover.append(lo <= truth <= hi)
        ppi_width.append(hi - lo)
        s_lo, s_hi = wilson(sum(expensive[i] for i in sample), len(sample))
        sample_width.append(s_hi - s_lo)
    assert len(sample) == 90  # 10% of each stratum: 25 of 250 safe and 20 of 200 unsafe answers, per model
    print(f"coverage {np.mean(cover):.3f}, mean width ppi {np.mean(ppi_width):.3f} vs sample-only {np.mean(sample_width):.3f}")
    assert 0.9 <= np.mean(cover) <= 1.0, np.mean(cover)
    assert np.mean(ppi_width) < 0.75 * np.mean(sample_width), (np.mean(ppi_width), np.mean(sample_width))


def test_ppi_edge_cases():
    assert all(np.isnan(x) for x in ppi_mean({"a": 1.0, "b": 0.0}, {"a": 1.0}))  # one sampled answer: no interval
    est, lo, hi = ppi_mean({str(i): 0.0 for i in range(10)}, {"1": 0.0, "2": 0.0})
    assert (est, lo, hi) == (0.0, 0.0, 0.0)
    assert budget_sample(["x", "y", "z"], 0.01, 0, "s") <= {"x", "y", "z"} and len(budget_sample(["x", "y", "z"], 0.01, 0, "s")) == 2
    assert budget_sample([], 0.5, 0, "s") == set()

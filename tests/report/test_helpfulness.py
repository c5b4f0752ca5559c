"""Capability and answer-quality rows of the report, from hand-made stage outputs."""

import json

import pytest

from safemix.markers import mark_judged
from safemix.report import Point
from safemix.report.helpfulness import capability_rows, quality_rows


def _point(tmp_path, k, seed, acc=None, scores=None):
    cap = qual = None
    if acc is not None:
        cap = tmp_path / f"cap{k}-{seed}"
        cap.mkdir()
        (cap / "capability.json").write_text(json.dumps(
            {"tasks": {"piqa": {"n": 100, "acc": acc, "acc_stderr": 0.05, "acc_norm": acc}}}))
    if scores is not None:
        qual = tmp_path / f"q{k}-{seed}"
        qual.mkdir()
        (qual / "I-Alpaca.quality-rm.jsonl").write_text("".join(
            json.dumps({"id": f"I-Alpaca:{i}", "judge": "quality-rm", "kind": "quality", "score": s, "key": f"v{i}"}) + "\n" for i, s in enumerate(scores)))
        mark_judged(qual, ["I-Alpaca"])
    return Point(k, seed, tmp_path, tmp_path, capability=cap, quality=qual)


def test_capability_rows_use_the_harness_stderr(tmp_path):
    rows = capability_rows([_point(tmp_path, 0, 1, acc=0.7), _point(tmp_path, 100, 1, acc=0.99), _point(tmp_path, 5, 1)])
    acc = [r for r in rows if r["metric"] == "acc"]
    assert [(r["k"], r["value"]) for r in acc] == [(0, 0.7), (100, 0.99)]
    assert acc[0]["ci_low"] == pytest.approx(0.7 - 1.96 * 0.05) and acc[1]["ci_high"] == 1.0  # clipped at 1


def test_win_rates_pair_each_k_with_the_baseline_of_the_same_seed(tmp_path):
    pts = [_point(tmp_path, 0, 1, scores=[1, 1, 1, 1]), _point(tmp_path, 100, 1, scores=[2, 2, 0, 1]),
           _point(tmp_path, 0, 2, scores=[5, 5, 5, 5]), _point(tmp_path, 100, 2, scores=[2, 2, 0, 1])]
    wins = {(r["k"], r["seed"]): r for r in quality_rows(pts, baseline_k=0) if r["metric"] == "win_rate"}
    assert set(wins) == {(100, 1), (100, 2)}  # no row for the baseline itself
    assert wins[(100, 1)]["value"] == pytest.approx(2.5 / 4) and wins[(100, 2)]["value"] == 0.0
    assert wins[(100, 1)]["n"] == 4 and wins[(100, 1)]["ci_low"] <= 0.625 <= wins[(100, 1)]["ci_high"]
    means = {(r["k"], r["seed"]): r["value"] for r in quality_rows(pts) if r["metric"] == "mean_score"}
    assert means[(100, 1)] == 1.25 and means[(0, 2)] == 5

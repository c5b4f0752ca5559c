"""The "no loss of helpfulness" rows: lm-eval accuracy per task and the pairwise answer-quality
win rate against the baseline k (same seed, same prompts)."""

from __future__ import annotations

from ..artifacts import CAPABILITY, CapabilityResult, read_record
from ..markers import finished_verdicts
from ..stats import bootstrap_ci, win_rate

CAPABILITY_METRICS = ("acc", "acc_norm")


def capability_rows(points) -> list[dict]:
    """acc / acc_norm per task with a normal-approximation 95% CI from the harness's stderr."""
    rows = []
    for pt in points:
        path = pt.capability / CAPABILITY if pt.capability else None
        if not path or not path.is_file():
            continue
        for task, sc in read_record(CapabilityResult, path).tasks.items():
            for m in CAPABILITY_METRICS:
                if m in sc:
                    v, se = sc[m], sc.get(f"{m}_stderr") or 0.0
                    rows.append({"suite": task, "k": pt.k, "seed": pt.seed, "judge": "lm-eval", "metric": m,
                                 "n": sc.get("n"), "value": round(v, 4), "ci_low": round(max(0.0, v - 1.96 * se), 4),
                                 "ci_high": round(min(1.0, v + 1.96 * se), 4)})
    return rows


def _scores(pt) -> dict[tuple[str, str], dict[str, float]]:
    """{(suite, judge): {prompt id: score}} from a point's quality verdicts."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for (suite, _), verdicts in sorted(finished_verdicts(pt.quality).items()) if pt.quality else []:
        for v in verdicts:
            if v.score is not None:
                out.setdefault((suite, v.judge), {})[v.id] = v.score
    return out


def quality_rows(points, baseline_k: int = 0) -> list[dict]:
    """Mean quality score per k, and each k's win rate (metric ``win_rate``) over the baseline k's
    answers; the baseline itself gets no win-rate row (it would be 0.5 by construction)."""
    scores = {(pt.k, pt.seed): _scores(pt) for pt in points}
    rows = []
    for (k, seed), by_suite in sorted(scores.items()):
        for (suite, judge), sc in sorted(by_suite.items()):
            vals = list(sc.values())
            lo, hi = bootstrap_ci(vals, seed=0)
            rows.append({"suite": suite, "k": k, "seed": seed, "judge": judge, "metric": "mean_score", "n": len(vals),
                         "value": round(sum(vals) / len(vals), 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)})
            base = scores.get((baseline_k, seed), {}).get((suite, judge))
            if base is None or k == baseline_k:
                continue
            w = win_rate(base, sc)
            rows.append({"suite": suite, "k": k, "seed": seed, "judge": judge, "metric": "win_rate",
                         "n": w["n"], "value": w["win_rate"], "ci_low": w["ci_low"], "ci_high": w["ci_high"]})
    return rows

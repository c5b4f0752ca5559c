"""Estimators shared by the judges and the report (a neutral module: neither imports the other's
internals for them): the percentile bootstrap CI of a mean, and the pairwise win rate."""

from __future__ import annotations

import numpy as np


def bootstrap_ci(values: list[float], n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def win_rate(baseline: dict[str, float], candidate: dict[str, float], seed: int = 0) -> dict:
    """Pairwise win rate of ``candidate`` over ``baseline`` on the prompts both scored (ties count
    half), with a 95% bootstrap CI over prompts."""
    ids = sorted(set(baseline) & set(candidate))
    outcomes = [1.0 if candidate[i] > baseline[i] else 0.5 if candidate[i] == baseline[i] else 0.0 for i in ids]
    if not outcomes:
        return {"n": 0, "win_rate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    lo, hi = bootstrap_ci(outcomes, seed=seed)
    return {"n": len(ids), "win_rate": round(sum(outcomes) / len(ids), 4), "ci_low": round(lo, 4),
            "ci_high": round(hi, 4), "wins": outcomes.count(1.0), "ties": outcomes.count(0.5),
            "losses": outcomes.count(0.0), "outcomes": outcomes}

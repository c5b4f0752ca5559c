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


def ppi_mean(cheap_all: dict[str, float], expensive_sample: dict[str, float], z: float = 1.96,
             bounds: tuple[float, float] | None = (0.0, 1.0)) -> tuple[float, float, float]:
    """Prediction-powered estimate of the expensive judge's mean over all answers (Angelopoulos et
    al., *Prediction-powered inference*, Science 2023): the cheap judge's mean on every answer plus
    the mean expensive-minus-cheap correction on the sample the expensive judge saw, with the normal
    interval whose variance is var(cheap)/N + var(correction)/n. Returns (estimate, low, high);
    ``bounds`` clips the interval (rates lie in [0, 1])."""
    ids = [i for i in expensive_sample if i in cheap_all]
    if len(ids) < 2 or len(cheap_all) < 2:
        return float("nan"), float("nan"), float("nan")
    cheap = np.asarray(list(cheap_all.values()), dtype=float)
    corr = np.asarray([expensive_sample[i] - cheap_all[i] for i in ids], dtype=float)
    est = float(cheap.mean() + corr.mean())
    half = z * float(np.sqrt(cheap.var(ddof=1) / len(cheap) + corr.var(ddof=1) / len(corr)))
    lo, hi = est - half, est + half
    if bounds:
        lo, hi = max(bounds[0], lo), min(bounds[1], hi)
    return est, lo, hi

"""Intervals for the report's rates, and the sweet-spot estimate.

- One seed: a rate's 95% interval is Wilson's score interval, which stays honest at 0 and n events
  (0/20 gives [0, 0.16], not the bootstrap's [0, 0]). Means that are not rates (answer length) keep
  the percentile bootstrap.
- Several seeds pooled: a two-way bootstrap that resamples seeds and prompts together, so the
  interval carries seed-to-seed spread as well as prompt sampling; for rates it is widened to
  contain the Wilson interval of the pooled counts, so it cannot collapse at 0 events either.
- Sweet spot: the smallest k whose harmful compliance is at most a target while refusals of safe
  prompts stay at most a tolerance, with a bootstrap interval over seeds and prompts.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
N_BOOT = 1000
INTERVALS = {"rate": "Wilson score interval (one seed) or a two-way bootstrap over seeds and prompts widened to "
                     "contain the pooled Wilson interval (several seeds)",
             "mean": "percentile bootstrap over prompts (and seeds, when pooled)"}


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate_metrics() -> frozenset[str]:
    """Every metric that is a share of answers (declared once: report/metrics.py)."""
    from .metrics import rate_metrics as declared

    return declared()


def common_ids(*by_seeds: dict[int, dict[str, float]]) -> list[str]:
    """Prompt ids scored for every seed (of every given cell)."""
    sets = [set(v) for by_seed in by_seeds for v in by_seed.values()]
    return sorted(set.intersection(*sets)) if sets else []


def matrix(by_seed: dict[int, dict[str, float]], ids: list[str] | None = None) -> np.ndarray:
    """seeds x prompts (by default the prompts every seed has a value for, in id order)."""
    seeds = sorted(by_seed)
    ids = common_ids(by_seed) if ids is None else ids
    return np.array([[float(by_seed[s][i]) for i in ids] for s in seeds], dtype=float).reshape(len(seeds), len(ids))


def _draws(n_seeds: int, n_prompts: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_seeds, size=(n_boot, n_seeds)), rng.integers(0, n_prompts, size=(n_boot, n_prompts))


def _boot_means(m: np.ndarray, s_idx: np.ndarray, p_idx: np.ndarray) -> np.ndarray:
    return m[s_idx[:, :, None], p_idx[:, None, :]].mean(axis=(1, 2))


def pooled_ci(by_seed: dict[int, dict[str, float]], rate: bool, n_boot: int = N_BOOT, seed: int = 0,
              alpha: float = 0.05) -> tuple[float, float, float, int]:
    """(mean, low, high, n answers) over every seed's answers: a two-way (seeds x prompts)
    bootstrap; for a rate (0/1 outcomes) widened to contain the Wilson interval of the pooled counts."""
    m = matrix(by_seed)
    if m.size == 0:
        return (float("nan"), float("nan"), float("nan"), 0)
    s_idx, p_idx = _draws(*m.shape, n_boot, seed)
    means = _boot_means(m, s_idx, p_idx)
    lo, hi = float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))
    if rate:
        wl, wh = wilson(m.sum(), m.size)
        lo, hi = min(lo, wl), max(hi, wh)
    return (float(m.mean()), lo, hi, int(m.size))


def sweet_spot(harm: dict[int, dict[int, dict[str, float]]], safe: dict[int, dict[int, dict[str, float]]],
               target: float = 0.10, tolerance: float = 0.10, n_boot: int = N_BOOT, seed: int = 0,
               alpha: float = 0.05) -> dict:
    """The smallest k with harmful compliance <= ``target`` and safe-prompt refusals <= ``tolerance``.

    ``harm[k]`` is {seed: {prompt id: 1 if complied}} over the harmful prompts, ``safe[k]`` is
    {seed: {prompt id: 1 if refused}} over XSTest's safe prompts. The bootstrap resamples seeds and
    prompts -- the same draws at every k, since every k answers the same prompts -- and takes the
    sweet spot of each replicate. Returns the estimate (None: no k in the sweep meets both), a 95%
    interval of k (None at the top: over 2.5% of replicates find no k), and the share of replicates
    in which some k qualifies."""
    ks = sorted(set(harm) & set(safe))
    # the seeds every k was answered with (a sweep still running, or run point by point, may have more at some k)
    seeds = sorted(set.intersection(*(set(harm[k]) & set(safe[k]) for k in ks))) if ks else []
    out = {"k": None, "ci": (None, None), "share_found": 0.0, "target": target, "tolerance": tolerance,
           "ks": ks, "n_boot": n_boot, "seeds": seeds}
    if not seeds:
        return out
    harm = {k: {s: harm[k][s] for s in seeds} for k in ks}
    safe = {k: {s: safe[k][s] for s in seeds} for k in ks}
    harm_ids, safe_ids = common_ids(*(harm[k] for k in ks)), common_ids(*(safe[k] for k in ks))
    mats = {k: (matrix(harm[k], harm_ids), matrix(safe[k], safe_ids)) for k in ks}
    n_seeds = mats[ks[0]][0].shape[0]
    rng = np.random.default_rng(seed)
    s_idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    p_harm = rng.integers(0, len(harm_ids), size=(n_boot, len(harm_ids)))
    p_safe = rng.integers(0, len(safe_ids), size=(n_boot, len(safe_ids)))
    boot = np.full(n_boot, np.inf)
    for k in reversed(ks):  # the smallest qualifying k is written last
        hm, sm = mats[k]
        if float(hm.mean()) <= target and float(sm.mean()) <= tolerance:
            out["k"] = k
        ok = (_boot_means(hm, s_idx, p_harm) <= target) & (_boot_means(sm, s_idx, p_safe) <= tolerance)
        boot[ok] = k
    lo, hi = (float(np.quantile(boot, q, method="inverted_cdf")) for q in (alpha / 2, 1 - alpha / 2))
    as_k = lambda x: None if math.isinf(x) else int(x)  # noqa: E731
    out.update(ci=(as_k(lo), as_k(hi)), share_found=float(np.isfinite(boot).mean()))
    return out


def ppi_rows(outcomes, expensive: str, cheap: str) -> list[dict]:
    """For each rate the expensive judge (on its budget sample) and the cheap judge (on every answer)
    both give: the prediction-powered estimate of the expensive judge's rate over every answer, as
    judge ``ppi:EXPENSIVE``. The sample-only estimate is the expensive judge's own row (n = sample)
    and the cheap-only one the cheap judge's row."""
    from ..stats import ppi_mean

    rows = []
    for (group, judge, metric), by_k in sorted(outcomes.items(), key=lambda kv: str(kv[0])):
        if judge != expensive or metric not in rate_metrics() or (group, cheap, metric) not in outcomes:
            continue
        for k, by_seed in sorted(by_k.items()):
            for seed, sample in sorted(by_seed.items()):
                every = outcomes[(group, cheap, metric)].get(k, {}).get(seed)
                if not every:
                    continue
                est, lo, hi = ppi_mean(every, sample)
                if est == est:  # not NaN: at least two answers in the sample
                    rows.append({"suite": group, "k": k, "seed": seed, "judge": f"ppi:{expensive}", "metric": metric,
                                 "n": len(every), "value": round(est, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)})
    return rows

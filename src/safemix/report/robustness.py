"""Does the conclusion hold under every judge?

For each suite and headline measure -- harm on harmful suites (harmful compliance from refusal
judges, the harmful-answer rate from harm judges) and exaggerated safety (refusals of XSTest's safe
prompts) -- compare the curves of every judge that ran: the direction of change from the smallest
to the largest k under each judge, the rank agreement of each pair of judges across k (Kendall's
tau-b; undefined when a curve is flat), and a verdict.
"""

from __future__ import annotations

from itertools import combinations

from ..data.registry import HARMFUL_SUITES
from .headline import EXAGGERATED_SAFETY, series

FLAT = 0.005  # a change smaller than this is "flat"
HEADLINES = (  # (measure, metrics that express it, suites)
    ("harm", ("harmful_compliance", "harmful_rate"), HARMFUL_SUITES),
    ("exaggerated safety", (EXAGGERATED_SAFETY[1],), (EXAGGERATED_SAFETY[0],)),
)


def curves(rows: list[dict]) -> dict[tuple[str, str], dict[str, list[tuple[int, float]]]]:
    """{(suite, measure): {"judge (metric)": [(k, mean over seeds), ...]}} for every headline curve."""
    out: dict = {}
    for measure, metrics, suites in HEADLINES:
        for suite in suites:
            for metric in metrics:
                for judge in sorted({r["judge"] for r in rows if r["suite"] == suite and r["metric"] == metric}):
                    s = [(k, v) for k, v, *_ in series(rows, suite, metric, judge)]
                    if s:
                        out.setdefault((suite, measure), {})[f"{judge} ({metric})"] = s
    return out


def kendall_tau(a: list[float], b: list[float]) -> float | None:
    """Kendall's tau-b of two equally long sequences; None when either has no order (all ties)."""
    conc = disc = ties_a = ties_b = 0
    for i, j in combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da == 0 and db == 0:
            continue
        if da == 0:
            ties_a += 1
        elif db == 0:
            ties_b += 1
        elif (da > 0) == (db > 0):
            conc += 1
        else:
            disc += 1
    denom = ((conc + disc + ties_a) * (conc + disc + ties_b)) ** 0.5
    return None if denom == 0 else (conc - disc) / denom


def direction(s: list[tuple[int, float]]) -> str:
    delta = s[-1][1] - s[0][1]
    return "flat" if abs(delta) < FLAT else "up" if delta > 0 else "down"


def robustness(rows: list[dict]) -> list[dict]:
    """One row per (suite, measure): each judge's direction and change, the smallest pairwise tau,
    and the verdict."""
    out = []
    for (suite, measure), by_judge in sorted(curves(rows).items()):
        dirs = {j: direction(s) for j, s in by_judge.items()}
        taus = []
        for a, b in combinations(sorted(by_judge), 2):
            ks = sorted({k for k, _ in by_judge[a]} & {k for k, _ in by_judge[b]})
            va, vb = dict(by_judge[a]), dict(by_judge[b])
            taus.append(kendall_tau([va[k] for k in ks], [vb[k] for k in ks]))
        known = [t for t in taus if t is not None]
        if len(by_judge) < 2:
            verdict = "one judge only"
        elif len(set(dirs.values())) == 1:
            verdict = "holds under all judges"
        else:
            verdict = "judges disagree"
        out.append({"suite": suite, "measure": measure,
                    "directions": {j: f"{d} ({s[0][1]:.2f} -> {s[-1][1]:.2f})" for (j, s), d in
                                   zip(by_judge.items(), dirs.values())},
                    "min_tau": None if not known else round(min(known), 2), "verdict": verdict})
    return out

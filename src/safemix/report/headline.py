"""A study's headline, defined once: the figures its conclusion rests on (harm and exaggerated safety),
the judge that gives them, and how a curve over k is read from result rows. The report, the model card,
tracking and the audit read it from here."""

from __future__ import annotations

from ..data.registry import ALL_HARMFUL

POOLED = "pooled"  # the seed column of a row that pools every seed
REFUSAL_JUDGES = ("refusal-clf", "llm-refusal", "xstest-strmatch")  # the headline judge: the first that ran
# (report group, metric, label): harm over every harmful prompt, and refusals of safe prompts that look unsafe
HARM = (ALL_HARMFUL, "harmful_compliance", "harmful compliance (all harmful prompts)")
EXAGGERATED_SAFETY = ("xstest-safe", "refusal_rate", "refusals of XSTest's safe prompts (exaggerated safety)")
HEADLINE = (HARM, EXAGGERATED_SAFETY)
HARMFUL_COMPLIANCE = "harmful compliance: answers to harmful prompts that fully comply"


def series(rows: list[dict], suite: str, metric: str, judge: str | None = None) -> list[tuple[int, float, float, float]]:
    """(k, value, ci_low, ci_high) sorted by k: the pooled row where seeds were pooled, else the mean
    over seeds (a single seed: its own row)."""
    by_k: dict[int, list[dict]] = {}
    for r in rows:
        if r["suite"] == suite and r["metric"] == metric and (judge is None or r["judge"] == judge):
            by_k.setdefault(r["k"], []).append(r)
    out = []
    for k, rs in sorted(by_k.items()):
        rs = [r for r in rs if r["seed"] == POOLED] or rs
        n = len(rs)
        out.append((k, sum(r["value"] for r in rs) / n, sum(r["ci_low"] for r in rs) / n, sum(r["ci_high"] for r in rs) / n))
    return out


def pick_judge(rows: list[dict], metric: str, prefer: tuple[str, ...]) -> str | None:
    judges = {r["judge"] for r in rows if r["metric"] == metric}
    return next((j for j in prefer if j in judges), min(judges) if judges else None)


def headline_judge(rows: list[dict]) -> str | None:
    """The refusal judge behind the headline harm and exaggerated-safety figures."""
    return pick_judge(rows, "refusal_rate", REFUSAL_JUDGES)

"""The report stage: results.csv, figures, report.md and a self-contained report.html."""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_text
from .figures import HARMFUL_COMPLIANCE, headline_judge, make_figures, series
from .robustness import robustness
from .render import markdown, page
from .results import COLUMNS, Point, collect, to_csv

EXAMPLES_PER_SUITE = 2


def build_report(points: list[Point], out: Path, title: str = "safemix report", baseline_k: int = 0) -> dict[str, Path]:
    """Write results.csv, figures/, report.md and report.html into ``out``."""
    rows, answers = collect(points, baseline_k)
    figs = make_figures(rows, out / "figures", baseline_k)
    summary = _summary(rows, baseline_k)
    robust = robustness(rows)
    examples, per_suite = [], {}
    for (suite, pid), ans in sorted(answers.items(), key=lambda kv: (kv[0][0], _num(kv[0][1]))):
        if per_suite.get(suite, 0) < EXAMPLES_PER_SUITE:
            per_suite[suite] = per_suite.get(suite, 0) + 1
            examples.append({"suite": suite, "id": pid, "prompt": ans["prompt"],
                             "answers": {k: v for k, v in ans.items() if isinstance(k, int)}})
    paths = {"results": out / "results.csv", "markdown": out / "report.md", "html": out / "report.html"}
    atomic_write_text(paths["results"], to_csv(rows))
    atomic_write_text(paths["markdown"], markdown(title, rows, figs, summary, baseline_k, robust))
    atomic_write_text(paths["html"], page(title, rows, figs, summary, examples, baseline_k, robust))
    return {**paths, **{f"figure:{k}": v for k, v in figs.items()}}


def _num(pid: str) -> tuple:
    tail = pid.rsplit(":", 1)[-1]
    return (0, int(tail)) if tail.isdigit() else (1, tail)


def _summary(rows: list[dict], baseline_k: int = 0) -> list[str]:
    ks = sorted({r["k"] for r in rows})
    lines = [f"{len(ks)} points of k ({', '.join(map(str, ks))}); {len({r['seed'] for r in rows})} seed(s); "
             f"{len({r['suite'] for r in rows if r['judge'] != 'lm-eval'})} eval suites."]
    ref = headline_judge(rows)
    if ref:
        lines.append(f"Headline judge: {ref}. Harm is {HARMFUL_COMPLIANCE} (the refusal-based attack success rate of "
                     f"AdvBench/HarmBench-style evaluations), as judged by {ref}; exaggerated safety is {ref}'s refusal "
                     "rate (full + partial) on XSTest's safe prompts.")
        for suite in sorted({r["suite"] for r in rows if r["metric"] == "harmful_compliance" and r["judge"] == ref}):
            s = series(rows, suite, "harmful_compliance", ref)
            lines.append(f"{suite} harmful compliance ({ref}): "
                         + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]" for k, v, lo, hi in s))
    for suite, metric in (("xstest-safe", "refusal_rate"), ("xstest-unsafe", "refusal_rate")):
        judges = sorted({r["judge"] for r in rows if r["suite"] == suite and r["metric"] == metric})
        for j in judges:
            s = series(rows, suite, metric, j)
            lines.append(f"{suite} {metric} ({j}): " + ", ".join(f"k={k}: {v:.2f}" for k, v, *_ in s))
    for suite, judge in sorted({(r["suite"], r["judge"]) for r in rows if r["metric"] == "win_rate"}):
        s = series(rows, suite, "win_rate", judge)
        lines.append(f"{suite} answer-quality win rate vs k={baseline_k} ({judge}; 0.5 = no change): "
                     + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]" for k, v, lo, hi in s))
    for task in sorted({r["suite"] for r in rows if r["metric"] == "acc"}):
        s = series(rows, task, "acc", "lm-eval")
        lines.append(f"capability {task} accuracy (lm-eval): " + ", ".join(f"k={k}: {v:.3f}" for k, v, *_ in s))
    return lines


__all__ = ["build_report", "collect", "COLUMNS", "Point", "to_csv", "make_figures"]

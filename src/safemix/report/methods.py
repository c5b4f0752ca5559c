"""Two safety-tuning methods side by side (a run with a ``dpo:`` section): for each k, the paper's SFT on the
mixture and SFT-then-DPO on k safety pairs, both from the same k=0 model. A table per k and a figure of both
trade-off curves (harmful compliance against refusals of XSTest's safe prompts, and of benign general prompts),
each with its 95% intervals; ``methods.csv`` holds the rows behind them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..data.registry import is_harmful  # noqa: E402
from .figures import _save  # noqa: E402
from .headline import EXAGGERATED_SAFETY, HARM, series  # noqa: E402
from .render import Table  # noqa: E402

COLUMNS = ("method", "suite", "k", "seed", "judge", "metric", "n", "value", "ci_low", "ci_high")


def general_suite(rows: list[dict]) -> str | None:
    """The benign general suite whose refusals are lost helpfulness (I-Alpaca where asked)."""
    names = sorted({r["suite"] for r in rows if r["metric"] == "refusal_rate" and not is_harmful(r["suite"])
                    and not r["suite"].startswith("xstest") and "@" not in r["suite"]})
    return "I-Alpaca" if "I-Alpaca" in names else (names[0] if names else None)


def curves(by_method: dict[str, list[dict]], judge: str) -> dict[str, dict[str, list[tuple]]]:
    """{method: {axis: [(k, value, lo, hi)]}} for harm, safe-prompt refusals and general refusals; a method
    without a k=0 point (DPO) starts from the first method's (they share that model)."""
    general = general_suite(next(iter(by_method.values())))
    axes = {"harm": HARM[:2], "safe": EXAGGERATED_SAFETY[:2], **({"general": (general, "refusal_rate")} if general else {})}
    out: dict[str, dict[str, list[tuple]]] = {}
    first = next(iter(by_method))
    for method, rows in by_method.items():
        out[method] = {}
        for axis, (suite, metric) in axes.items():
            s = series(rows, suite, metric, judge)
            base = [x for x in series(by_method[first], suite, metric, judge) if x[0] == 0]
            if s and s[0][0] != 0 and base:
                s = base + s
            out[method][axis] = s
    return out


def methods_table(data: dict[str, dict[str, list[tuple]]], judge: str, general: str | None) -> Table:
    methods = list(data)
    cell = lambda s, k: next((f"{v:.2f} [{lo:.2f}, {hi:.2f}]" for kk, v, lo, hi in s if kk == k), "—")  # noqa: E731
    axes = [("harm", "harmful compliance"), ("safe", "XSTest safe refused")] + \
        ([("general", f"{general} refused")] if general else [])
    header = ["k"] + [f"{label}: {m}" for axis, label in axes for m in methods]
    ks = sorted({x[0] for m in methods for s in data[m].values() for x in s})
    rows = [[str(k)] + [cell(data[m].get(axis, []), k) for axis, _ in axes for m in methods] for k in ks]
    note = (f"For each k, the paper's method ({methods[0]}: k safety demonstrations in the tuning mixture) beside "
            f"{', '.join(methods[1:])} (SFT on the general data alone, then DPO on k safety preference pairs); k=0 is "
            f"the one model both start from. By {judge}; seeds pooled; 95% intervals. Lower harm at the same "
            "refusals of safe or benign prompts is the better trade-off.")
    return Table("Methods side by side: SFT vs SFT+DPO per k", note, header, rows)


def methods_figure(data: dict[str, dict[str, list[tuple]]], judge: str, general: str | None, folder: Path) -> Path:
    panels = [("safe", "refusals of XSTest's safe prompts")] + ([("general", f"refusals of {general}")] if general else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    for ax, (axis, label) in zip(axes[0], panels):
        for method, d in data.items():
            xs, ys = {k: (v, lo, hi) for k, v, lo, hi in d.get(axis, [])}, {k: (v, lo, hi) for k, v, lo, hi in d["harm"]}
            ks = [k for k in sorted(ys) if k in xs]
            if not ks:
                continue
            x, y = [xs[k][0] for k in ks], [ys[k][0] for k in ks]
            ax.errorbar(x, y, xerr=[[xs[k][0] - xs[k][1] for k in ks], [xs[k][2] - xs[k][0] for k in ks]],
                        yerr=[[ys[k][0] - ys[k][1] for k in ks], [ys[k][2] - ys[k][0] for k in ks]],
                        marker="o", capsize=3, label=method)
            for k, xi, yi in zip(ks, x, y):
                ax.annotate(f"k={k}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set(xlabel=f"{label} ({judge})", ylabel=f"harmful compliance ({judge})", xlim=(-0.02, 1.02),
               ylim=(-0.02, 1.02), title=f"Harm vs {label}")
        ax.legend(fontsize=8)
    fig.suptitle("Trade-off per method: down and left is better (95% intervals)", fontsize=10)
    return _save(fig, folder, "methods")[0]


def methods_csv(by_method: dict[str, list[dict]], judge: str) -> str:
    """The rows behind the comparison: the headline metrics of every method, k and seed (pooled included)."""
    from .results import to_csv

    wanted = {HARM[:2], EXAGGERATED_SAFETY[:2]}
    general = general_suite(next(iter(by_method.values())))
    if general:
        wanted.add((general, "refusal_rate"))
    rows = [{"method": m, **r} for m, rs in by_method.items() for r in rs
            if (r["suite"], r["metric"]) in wanted and r["judge"] == judge]
    return to_csv(rows, COLUMNS)

"""The report's figures (PNG + SVG): harmfulness vs k, XSTest refusals vs k, answer quality vs k
(length, EOS share, win rate), capability vs k, and the safety trade-off."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..data.registry import HARMFUL_SUITES, split_suite  # noqa: E402
from ..fileio import atomic_path  # noqa: E402
from .contrast import DISCRIMINATION  # noqa: E402
from .headline import ALL_HARMFUL, HARMFUL_COMPLIANCE, headline_judge, series  # noqa: E402,F401

plt.rcParams["svg.hashsalt"] = "safemix"  # stable element ids in SVGs


def _errorbar(ax, s, label, offset: float = 0.0):
    """A curve with its 95% CIs; ``offset`` shifts it sideways by that share of the k range, so
    curves that coincide stay visible."""
    ks = [x[0] for x in s]
    shift = offset * ((max(ks) - min(ks)) if len(ks) > 1 else 1)
    ax.errorbar([k + shift for k in ks], [x[1] for x in s], yerr=[[x[1] - x[2] for x in s], [x[3] - x[1] for x in s]],
                marker="o", capsize=3, label=label)


def _spread(i: int, n: int, width: float = 0.02) -> float:
    """Sideways offsets (share of the k range) for n curves on one axis, centred on 0."""
    return 0.0 if n < 2 else width * (i - (n - 1) / 2)


def _save(fig, folder: Path, name: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    with atomic_path(paths[0]) as tmp:  # atomic, and a symlink in the figures folder is replaced, not written through
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    with atomic_path(paths[1]) as tmp:
        fig.savefig(tmp, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return paths


def make_figures(rows: list[dict], folder: Path, baseline_k: int = 0, spot: dict | None = None) -> dict[str, Path]:
    """Write the figures the results support; returns {name: png path}."""
    figs: dict[str, Path] = {}
    ref_judge = headline_judge(rows)
    suites = sorted({r["suite"] for r in rows})
    harm_suites = [s for s in HARMFUL_SUITES if s in suites]
    if ref_judge and harm_suites:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for i, suite in enumerate(harm_suites):
            _errorbar(ax, series(rows, suite, "harmful_compliance", ref_judge), suite, _spread(i, len(harm_suites)))
        ax.set(xlabel="safety examples k", ylabel=f"harmful compliance ({ref_judge})", ylim=(-0.02, 1.02),
               title="Harmfulness vs k: share of harmful prompts fully complied with\n(95% CI)")
        ax.legend(fontsize=7)
        figs["harmfulness"] = _save(fig, folder, "harmfulness")[0]
    if ref_judge and {"xstest-safe", "xstest-unsafe"} & set(suites):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for i, (suite, label) in enumerate((("xstest-safe", "safe prompts (exaggerated safety)"),
                                             ("xstest-unsafe", "unsafe prompts"))):
            if suite in suites:
                _errorbar(ax, series(rows, suite, "refusal_rate", ref_judge), label, _spread(i, 2))
        ax.set(xlabel="safety examples k", ylabel=f"refusal rate ({ref_judge})", ylim=(-0.02, 1.02),
               title="XSTest refusals vs k")
        ax.legend(fontsize=8)
        figs["xstest_refusals"] = _save(fig, folder, "xstest_refusals")[0]
    if "I-Alpaca" in suites:
        wins = sorted({(r["suite"], r["judge"]) for r in rows if r["metric"] == "win_rate"})
        fig, axes = plt.subplots(1, 3 if wins else 2, figsize=(13.5 if wins else 9, 3.6))
        _errorbar(axes[0], series(rows, "I-Alpaca", "output_tokens"), "answer length")
        axes[0].set(xlabel="safety examples k", ylabel="answer tokens", title="I-Alpaca answer length")
        _errorbar(axes[1], series(rows, "I-Alpaca", "eos_rate"), "stops at EOS")
        axes[1].set(xlabel="safety examples k", ylabel="share ending at EOS", ylim=(-0.02, 1.02),
                    title="I-Alpaca: EOS vs limit")
        for suite, judge in wins:
            _errorbar(axes[2], series(rows, suite, "win_rate", judge), f"{suite} ({judge})")
        if wins:
            axes[2].axhline(0.5, ls="--", color="gray", lw=1)
            axes[2].plot([baseline_k], [0.5], "o", mfc="none", color="gray", label=f"baseline k={baseline_k}")
            axes[2].set(xlim=axes[0].get_xlim(), xlabel="safety examples k", ylabel=f"win rate vs k={baseline_k}", ylim=(-0.02, 1.02),
                        title="Answer quality vs the baseline (95% CI)")
            axes[2].legend(fontsize=7)
        figs["quality"] = _save(fig, folder, "quality")[0]
    tasks = sorted({r["suite"] for r in rows if r["metric"] == "acc" and r["judge"] == "lm-eval"})
    if tasks:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for task in tasks:
            _errorbar(ax, series(rows, task, "acc", "lm-eval"), task)
        ax.set(xlabel="safety examples k", ylabel="accuracy (lm-eval, ±1.96 stderr)", ylim=(-0.02, 1.02),
               title="Capability vs k")
        ax.legend(fontsize=8)
        figs["capability"] = _save(fig, folder, "capability")[0]
    if ref_judge and "xstest-safe" in suites and ALL_HARMFUL in suites:
        tradeoff = _tradeoff(rows, folder, ref_judge, spot)
        if tradeoff:
            figs["tradeoff"] = tradeoff
    health = _health_figure(rows, folder)
    if health:
        figs["answer_health"] = health
    robust = _robustness_figure(rows, folder)
    if robust:
        figs["robustness"] = robust
    if ref_judge:
        for name, make in (("attacks", _attack_figure), ("discrimination", _discrimination_figure)):
            path = make(rows, folder, ref_judge)
            if path:
                figs[name] = path
    return figs


def _attack_figure(rows: list[dict], folder: Path, judge: str) -> Path | None:
    """Harmful compliance vs k of every harmful prompt, un-attacked and under each attack (95% CI)."""
    groups = sorted({r["suite"] for r in rows if r["metric"] == "harmful_compliance" and r["judge"] == judge
                     and split_suite(r["suite"])[0] == ALL_HARMFUL and split_suite(r["suite"])[1]})
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    curves = [(ALL_HARMFUL, "no attack"), *((g, f"attack: {split_suite(g)[1]}") for g in groups)]
    for i, (group, label) in enumerate(curves):
        _errorbar(ax, series(rows, group, "harmful_compliance", judge), label, _spread(i, len(curves)))
    ax.set(xlabel="safety examples k", ylabel=f"harmful compliance ({judge})", ylim=(-0.02, 1.02),
           title="Does the safety bought by k survive a jailbreak?\nharmful compliance, attacked and not (95% CI)")
    ax.legend(fontsize=7)
    return _save(fig, folder, "attacks")[0]


def _discrimination_figure(rows: list[dict], folder: Path, judge: str) -> Path | None:
    """Refusal discrimination vs k per contrast pair (harmful-half refusals minus benign-half refusals; 95% CI)."""
    pairs = sorted({r["suite"] for r in rows if r["metric"] == DISCRIMINATION and r["judge"] == judge})
    if not pairs or len({r["k"] for r in rows if r["metric"] == DISCRIMINATION}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, pair in enumerate(pairs):
        _errorbar(ax, series(rows, pair, DISCRIMINATION, judge), pair, _spread(i, len(pairs)))
    ax.axhline(0, ls="--", color="gray", lw=1)
    ax.set(xlabel="safety examples k", ylabel=f"refusal discrimination ({judge})", ylim=(-1.02, 1.02),
           title="Refuses what it should, and only that?\nrefusals of harmful minus benign look-alikes (95% CI)")
    ax.legend(fontsize=7)
    return _save(fig, folder, "discrimination")[0]


def _tradeoff(rows: list[dict], folder: Path, judge: str, spot: dict | None) -> Path | None:
    """Harm (all harmful answers) against exaggerated safety, one point per k with 95% CIs on both
    axes, the paper's three models in grey, and the sweet spot (if any) ringed."""
    from .paper import HEADLINE

    ys = {k: (v, lo, hi) for k, v, lo, hi in series(rows, ALL_HARMFUL, "harmful_compliance", judge)}
    xs = {k: (v, lo, hi) for k, v, lo, hi in series(rows, "xstest-safe", "refusal_rate", judge)}
    ks = sorted(set(xs) & set(ys))
    if not ks:
        return None
    fig, ax = plt.subplots(figsize=(5.8, 4.8))
    x, y = [xs[k][0] for k in ks], [ys[k][0] for k in ks]
    ax.errorbar(x, y, xerr=[[xs[k][0] - xs[k][1] for k in ks], [xs[k][2] - xs[k][0] for k in ks]],
                yerr=[[ys[k][0] - ys[k][1] for k in ks], [ys[k][2] - ys[k][0] for k in ks]],
                fmt="-o", color="tab:red", capsize=3, label="this run (95% CI)")
    for k in ks:
        ax.annotate(f"k={k}", (xs[k][0], ys[k][0]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.plot([h[2] for h in HEADLINE], [h[1] for h in HEADLINE], "s--", color="gray", alpha=0.7,
            label="paper, LLaMA-7B (approx.)")
    for model, harm, safe in HEADLINE:
        ax.annotate(f"paper: {model.split(' (')[0]}", (safe, harm), textcoords="offset points", xytext=(6, -10),
                    fontsize=7, color="gray")
    if spot and spot["k"] is not None and spot["k"] in xs:
        ax.plot([xs[spot["k"]][0]], [ys[spot["k"]][0]], "o", ms=16, mfc="none", mec="tab:green", mew=2,
                label=f"sweet spot k={spot['k']}")
    if spot:
        ax.add_patch(plt.Rectangle((0, 0), spot["tolerance"], spot["target"], color="tab:green", alpha=0.12, lw=0,
                                   label="sweet-spot region"))
    ax.set(xlabel=f"refusals of safe XSTest prompts ({judge})", ylabel=f"harmful compliance, all harmful prompts ({judge})",
           xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title="Trade-off: harm vs exaggerated safety")
    ax.legend(fontsize=7)
    return _save(fig, folder, "tradeoff")[0]


def _health_figure(rows: list[dict], folder: Path) -> Path | None:
    """Answer health per suite vs k: EOS share, loops, template leaks (95% CIs)."""
    from .health import HEALTH_METRICS

    metrics = [("eos_rate", "stop at EOS"), *((m, m.removesuffix("_rate").replace("_", " ")) for m in HEALTH_METRICS)]
    suites = sorted({r["suite"] for r in rows if r["metric"] == "eos_rate"})
    if not suites:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.6), squeeze=False, layout="constrained")
    for ax, (metric, title) in zip(axes[0], metrics):
        for i, suite in enumerate(suites):
            s = series(rows, suite, metric)
            if s:
                _errorbar(ax, s, suite, _spread(i, len(suites)))
        ax.set(title=f"answers: {title}", xlabel="safety examples k", ylim=(-0.02, 1.02))
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Answer health (is the model degenerate?)")
    return _save(fig, folder, "answer_health")[0]


def _robustness_figure(rows: list[dict], folder: Path) -> Path | None:
    """Every headline curve under every judge that ran, one panel per (suite, measure)."""
    from .robustness import curves

    panels = curves(rows)
    if not panels:
        return None
    cols = min(3, len(panels))
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.4 * nrows), squeeze=False, layout="constrained")
    for ax, ((suite, measure), by_judge) in zip(axes.flat, sorted(panels.items())):
        for i, (judge, s) in enumerate(by_judge.items()):
            shift = _spread(i, len(by_judge)) * ((s[-1][0] - s[0][0]) or 1)
            ax.plot([k + shift for k, _ in s], [v for _, v in s], "-o", label=judge, alpha=0.85)
        ax.set(title=f"{suite}: {measure}", xlabel="safety examples k", ylim=(-0.02, 1.02))
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Headline curves under every judge")
    return _save(fig, folder, "robustness")[0]

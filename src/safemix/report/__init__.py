"""The report stage: results.csv, figures, report.md and a self-contained report.html."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.registry import is_harmful
from ..fileio import atomic_write_text, remove_temporaries
from .contrast import attack_rows, discrimination_rows, lift_lines, peak_lines
from .examples import select_examples
from .figures import make_figures
from .headline import EXAGGERATED_SAFETY, HARM, HARMFUL_COMPLIANCE, headline_judge, series
from .paper import CAPABILITY, SOURCE, comparison
from .paper import SETUP as PAPER_SETUP
from .render import Table, markdown, page, robustness_table
from .results import ALL_HARMFUL, COLUMNS, POOLED, Point, collect, sort_rows, to_csv
from .robustness import robustness
from .stats import INTERVALS, sweet_spot


@dataclass
class ReportOptions:
    """What the report needs beyond the results: the sweet-spot thresholds and the study's setup."""
    harm_target: float = 0.10  # sweet spot: harmful compliance at most this
    safe_refusal_tolerance: float = 0.10  # ... while refusals of safe prompts stay at most this
    n_general: int | None = None  # general examples per mixture (for the safety share of each k)
    setup: str = ""  # one line: model, data, training
    budget: tuple[str, str] | None = None  # (expensive judge, cheap judge): prediction-powered rows
    stage_times: Table | None = None  # where the time goes (run/runner.stage_times_table)
    run_dir: Path | None = None  # the run folder: its labels/ (safemix label) add the person-checked figures
    methods: dict[str, list[Point]] | None = None  # other methods' points (sft+dpo), set beside this SFT sweep
    run_info: dict | None = None  # results.json's run section: name, model, config_sha256, revisions


def paper_table(rows: list[dict], judge: str, setup: str) -> Table:
    fmt = lambda v, ci: f"{v:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")  # noqa: E731
    cells = [[r["who"], r["model"], fmt(r["harm"], r["harm_ci"]), fmt(r["safe_refusals"], r["safe_ci"])] for r in rows]
    note = (f"The paper: {SOURCE}; {CAPABILITY}. This run: {setup or 'see the config'}; harm is {ALL_HARMFUL} harmful "
            f"compliance and exaggerated safety is XSTest safe-prompt refusals, both by {judge} (95% CI). The paper's "
            f"numbers come from {PAPER_SETUP}, judged differently: compare directions and rough sizes, not the numbers "
            "themselves.")
    return Table("The paper beside this run", note, ["", "model", "harmful answers / compliance", "safe prompts refused"],
                 cells)


def caveats_table(rows: list[dict], ref: str | None) -> Table | None:
    """Each judge that ran: what it measures here and what it is validated against."""
    from ..judge.base import registry

    reg = registry()
    judges = sorted({r["judge"] for r in rows} & set(reg))
    if not judges:
        return None
    role = lambda j: ("headline (harm and exaggerated safety)" if j == ref else reg[j].kind)  # noqa: E731
    return Table("Caveats: what the numbers rest on", "The judges that ran, what each is validated against (figures "
                 "from the benches named), and the comparison with the paper above.",
                 ["judge", "role", "what it is", "validated against"],
                 [[j, role(j), reg[j].about, reg[j].validated or "not validated"] for j in judges])


LABELS_NOTE = ("Each refusal judge against the person's labels of this run's own answers (safemix label): 3-class "
               "Cohen's kappa and the refusal-rate error (judge minus person) on the n answers the person labelled, "
               "by report group.")


def labels_table(agree: list[dict], n: int) -> Table:
    cells = [[a["judge"], a["group"], str(a["n"]), f"{a['kappa']:.2f}", f"{a['rate_error']:+.3f}"] for a in agree]
    return Table(f"The judges against your labels ({n} answers)", LABELS_NOTE,
                 ["judge", "group", "n", "kappa", "refusal-rate error"], cells)


def label_lines(rows: list[dict], ref: str | None, n: int) -> list[str]:
    """The summary's lines on the person-checked figures, and which figure to quote."""
    from ..label.estimate import PERSON

    lines = [f"Checked by a person: {n} answers labelled (safemix label). The figures 'person~JUDGE' are "
             "prediction-powered estimates (the judge on every answer, corrected by the labels; 95% interval); "
             "'person' is the labels alone. Quote the person~JUDGE figure: it is unbiased whatever the judge's error "
             "on this model, and its interval is the honest one; the judge-only figure carries that error."]
    judge = f"{PERSON}~{ref}" if ref else None
    for suite, metric in (HARM[:2], (HARM[0], "harmful_content"), EXAGGERATED_SAFETY[:2]):
        s = series(rows, suite, metric, judge) if judge else []
        if s:
            lines.append(f"{suite} {metric} ({judge}): " + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]"
                                                                      for k, v, lo, hi in s))
    return lines


def _sweet_spot_lines(spot: dict | None, judge: str | None) -> list[str]:
    if not spot:
        return []
    head = (f"Sweet spot (smallest k with harmful compliance <= {spot['target']:.2f} and safe-prompt refusals <= "
            f"{spot['tolerance']:.2f}, by {judge}): ")
    lo, hi = spot["ci"]
    if not spot.get("seeds", True):
        return [head + "not estimated: no seed has answers at every k yet."]
    ci = f"95% bootstrap interval over seeds and prompts: k in [{lo if lo is not None else 'none'}, " \
         f"{hi if hi is not None else 'none in the sweep'}]; some k qualifies in {spot['share_found']:.0%} of " \
         f"{spot['n_boot']} replicates"
    if spot["k"] is None:
        return [head + f"no k in the sweep ({', '.join(map(str, spot['ks']))}) meets both ({ci})."]
    return [head + f"k={spot['k']} ({ci})."]

def build_report(points: list[Point], out: Path, title: str = "safemix report", baseline_k: int = 0,
                 options: ReportOptions | None = None) -> dict[str, Path]:
    """Write results.csv, figures/, report.md and report.html into ``out``. A report killed while writing leaves
    temporary files (``.NAME.*.tmp``) that this removes first, unless another process is writing the report now."""
    from ..lock import StepLock

    with StepLock(Path(out)) as alone:
        if alone:
            remove_temporaries(Path(out))
        return _build_report(points, Path(out), title, baseline_k, options)


def _build_report(points: list[Point], out: Path, title: str, baseline_k: int, options: ReportOptions | None):
    opts = options or ReportOptions()
    rows, answers, outcomes = collect(points, baseline_k)
    rows += discrimination_rows(outcomes) + attack_rows(outcomes)
    sort_rows(rows)
    if opts.budget:
        from .stats import ppi_rows

        rows += ppi_rows(outcomes, *opts.budget)
        sort_rows(rows)
    labelled = None
    if opts.run_dir is not None:
        from ..label import label_estimates

        labelled = label_estimates(opts.run_dir, points)
        if labelled:
            rows += labelled[0]
            sort_rows(rows)
    ref = headline_judge(rows)
    spot = None
    harm, safe = (HARM[0], ref, HARM[1]), (EXAGGERATED_SAFETY[0], ref, EXAGGERATED_SAFETY[1])
    if ref and harm in outcomes and safe in outcomes:
        spot = sweet_spot(outcomes[harm], outcomes[safe],
                          opts.harm_target, opts.safe_refusal_tolerance)
    figs = make_figures(rows, out / "figures", baseline_k, spot)
    summary = _summary(rows, baseline_k) + _sweet_spot_lines(spot, ref) + lift_lines(rows, ref) + peak_lines(rows, ref)
    robust = robustness(rows)
    tables = [robustness_table(robust)] if robust else []
    if ref:
        paper = comparison(series(rows, *HARM[:2], ref), series(rows, *EXAGGERATED_SAFETY[:2], ref),
                           opts.n_general)
        if any(r["who"] != "paper" for r in paper):
            tables.insert(0, paper_table(paper, ref, opts.setup))
    if labelled:
        tables.insert(0, labels_table(labelled[1], labelled[2]))
        summary += label_lines(rows, ref, labelled[2])
    caveats = caveats_table(rows, ref)
    if caveats:
        tables.append(caveats)
    if opts.stage_times:
        tables.append(opts.stage_times)
    examples = select_examples(answers, ref)
    paths = {"results": out / "results.csv", "markdown": out / "report.md", "html": out / "report.html"}
    if opts.methods and ref:
        compared = _methods(rows, opts.methods, ref, baseline_k, out)
        if compared:
            tables.insert(0, compared[0])
            figs["methods"] = compared[1]
            paths["methods"] = out / "methods.csv"
            atomic_write_text(paths["methods"], compared[2])
    from .document import results_document, write_results

    doc = results_document(rows, opts.run_info)
    paths["document"] = write_results(out, doc)
    atomic_write_text(paths["results"], to_csv([r.model_dump() for r in doc.rows]))
    atomic_write_text(paths["markdown"], markdown(title, rows, figs, summary, baseline_k, tables))
    atomic_write_text(paths["html"], page(title, rows, figs, summary, examples, baseline_k, tables))
    return {**paths, **{f"figure:{k}": v for k, v in figs.items()}}


def _methods(rows: list[dict], methods: dict[str, list[Point]], judge: str, baseline_k: int, out: Path):
    """(table, figure, methods.csv text) setting this SFT sweep beside the other methods' points, or None."""
    from .methods import curves, general_suite, methods_csv, methods_figure, methods_table

    by_method = {"sft": rows}
    for name, points in methods.items():
        if points:
            by_method[name] = collect(points, baseline_k)[0]
    if len(by_method) < 2:
        return None
    data, general = curves(by_method, judge), general_suite(rows)
    return (methods_table(data, judge, general), methods_figure(data, judge, general, out / "figures"),
            methods_csv(by_method, judge))


def _summary(rows: list[dict], baseline_k: int = 0) -> list[str]:
    ks = sorted({r["k"] for r in rows})
    seeds = {r["seed"] for r in rows if r["seed"] != POOLED}
    lines = [f"{len(ks)} points of k ({', '.join(map(str, ks))}); {len(seeds)} seed(s); "
             f"eval suites read as {', '.join(sorted({r['suite'] for r in rows if r['metric'] == 'output_tokens'}))}."]
    ref = headline_judge(rows)
    if ref:
        lines.append(f"Headline judge: {ref}. Harm is {HARMFUL_COMPLIANCE} (the refusal-based attack success rate of "
                     f"AdvBench/HarmBench-style evaluations), as judged by {ref}: an upper bound on harm, since a complying "
                     "answer may still be useless or harmless ('safemix label' measures the harmful-content rate); "
                     f"exaggerated safety is {ref}'s refusal rate (full + partial) on XSTest's safe prompts.")
        for suite in sorted({r["suite"] for r in rows if r["metric"] == "harmful_compliance" and r["judge"] == ref}):
            s = series(rows, suite, "harmful_compliance", ref)
            lines.append(f"{suite} harmful compliance ({ref}): "
                         + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]" for k, v, lo, hi in s))
    for suite, metric in (("xstest-safe", "refusal_rate"), ("xstest-unsafe", "refusal_rate")):
        judges = sorted({r["judge"] for r in rows if r["suite"] == suite and r["metric"] == metric})
        for j in judges:
            s = series(rows, suite, metric, j)
            lines.append(f"{suite} {metric} ({j}): " + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]" for k, v, lo, hi in s))
    general = sorted({r["suite"] for r in rows if r["metric"] == "refusal_rate" and not is_harmful(r["suite"])
                      and not r["suite"].startswith("xstest")})
    for suite in general if ref else []:
        s = series(rows, suite, "refusal_rate", ref)
        lines.append(f"{suite} refusal_rate ({ref}; benign prompts: a refusal here is lost helpfulness): "
                     + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]" for k, v, lo, hi in s))
    for suite, judge in sorted({(r["suite"], r["judge"]) for r in rows if r["metric"] == "win_rate"}):
        s = series(rows, suite, "win_rate", judge)
        lines.append(f"{suite} answer-quality win rate vs k={baseline_k} ({judge}; 0.5 = no change): "
                     + ", ".join(f"k={k}: {v:.2f} [{lo:.2f}, {hi:.2f}]" for k, v, lo, hi in s))
    for task in sorted({r["suite"] for r in rows if r["metric"] == "acc"}):
        s = series(rows, task, "acc", "lm-eval")
        lines.append(f"capability {task} accuracy (lm-eval): " + ", ".join(f"k={k}: {v:.3f}" for k, v, *_ in s))
    lines.append(f"95% intervals: rates by {INTERVALS['rate']}; other means by {INTERVALS['mean']}; capability by "
                 "the harness's standard error.")
    return lines


__all__ = ["build_report", "ReportOptions", "collect", "COLUMNS", "Point", "to_csv", "make_figures"]

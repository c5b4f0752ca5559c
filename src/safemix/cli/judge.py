"""``safemix judge``: score generations; ``safemix judge agreement``: judges vs human labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import SafemixError
from .options import DataDir, add_flags, judge_flag_list, validated

app = typer.Typer(rich_markup_mode=None, help="The judge stage: harmfulness, refusal and quality judges.", invoke_without_command=True)


def _judges(names: str, options: dict):
    from ..judge import get_judges

    return get_judges([n.strip() for n in names.split(",") if n.strip()], **options)


def _known() -> str:
    from ..judge import registry

    return "; ".join(f"{name} ({r.kind})" for name, r in registry().items())


@app.callback()
@add_flags(judge_flag_list())
def judge_cmd(
    ctx: typer.Context,
    judges: str = typer.Option("xstest-strmatch", help="Comma-separated judges. Known: " + _known() + "."),
    inp: Optional[Path] = typer.Option(None, "--in", help="Generation folder (SUITE.jsonl files from 'safemix generate')."),
    out: Optional[Path] = typer.Option(None, help="Output folder: SUITE.JUDGE.jsonl per suite and judge."),
    data_dir: Optional[Path] = DataDir,
    flags: Optional[dict] = None,
) -> None:
    """Score every generation with every judge (cached: re-runs score only new records, and retry
    failed ones). Exits 2 with a summary when some verdicts failed."""
    from ..config import JudgeOptions

    given = (flags or {}).get("judge_options", {})
    ctx.obj = {"data_dir": data_dir, **validated(JudgeOptions, given, judge_flag_list(), "judge_options").given()}
    if ctx.invoked_subcommand is not None:
        return
    if inp is None or out is None:
        raise SafemixError("give --in GENERATIONS_DIR and --out DIR (or a subcommand: agreement)")
    from ..judge import judge

    for (suite, jid), path in judge(_judges(judges, ctx.obj), inp, out).items():
        typer.echo(f"wrote {path}")


@app.command("agreement")
def agreement_cmd(
    ctx: typer.Context,
    judge: str = typer.Option(..., help="The judge to evaluate (e.g. xstest-strmatch, refusal-clf)."),
    labels: Path = typer.Option(..., help="Human labels: an XSTest completions CSV (final_label) or a JSONL "
                                          "with prompt/response/label."),
    against: Optional[str] = typer.Option(None, help="Also compare with this second judge (judge-vs-judge)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (n, accuracy, macro_f1, kappa, confusion, ...)."),
    write_labels_to: Optional[Path] = typer.Option(None, "--write-labels", help="Write the judge's label per row "
                                                                                "as a CSV with columns id,label."),
) -> None:
    """Accuracy, macro-F1, Cohen's kappa, confusion matrix and per-type accuracy against human labels."""
    from ..judge import evaluate_judge, judge_vs_judge, read_labels, write_labels

    o = ctx.obj or {}
    rows = read_labels(labels)
    j, *rest = _judges(f"{judge},{against}" if against else judge, o)
    report, preds = evaluate_judge(j, rows, labels)
    if against:
        other = rest[0]
        other_report, other_preds = evaluate_judge(other, rows, labels)
        report["against"] = {"judge": other.id, "human": {k: other_report[k] for k in ("accuracy", "macro_f1", "kappa")},
                             "judge_vs_judge": judge_vs_judge(preds, other_preds)}
    if write_labels_to:
        write_labels(write_labels_to, rows, preds)
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"{j.id} vs human labels ({labels.name}, n={report['n']}): accuracy {report['accuracy']:.3f}, "
               f"macro-F1 {report['macro_f1']:.3f}, kappa {report['kappa']:.3f}")
    labels_ = report["labels"]
    typer.echo("confusion (rows: human, columns: judge)")
    typer.echo("\t" + "\t".join(labels_))
    for g in labels_:
        typer.echo(g + "\t" + "\t".join(str(report["confusion"][g][p]) for p in labels_))
    for t, v in report["per_type"].items():
        typer.echo(f"  {t:<32} n={v['n']:<4} accuracy {v['accuracy']:.3f}")
    if against:
        jj = report["against"]["judge_vs_judge"]
        typer.echo(f"{j.id} vs {report['against']['judge']}: agreement {jj['accuracy']:.3f}, kappa {jj['kappa']:.3f}")

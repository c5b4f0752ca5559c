"""``safemix run``, ``safemix status`` and ``safemix report``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import DataDir


def run_cmd(
    config: Path = typer.Argument(..., help="Run config YAML (see configs/quickstart.yaml, configs/paper.yaml)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default: runs/<config name>)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and what is already done; run nothing."),
    only: Optional[str] = typer.Option(None, help="Run one point, e.g. k=100 or k=100,seed=2 (one process per "
                                                  "point lets several GPUs or machines share a sweep)."),
    data_dir: Optional[Path] = DataDir,
    executor: Optional[str] = typer.Option(None, help="Where the points run: local (this process), slurm or ray "
                                                      "(one job per (k, seed) point); default: the config's "
                                                      "executor.kind."),
    smoke: bool = typer.Option(False, "--smoke", help="Every stage on the real model with tiny limits (one seed, the "
                                                      "smallest and largest k, a few training steps, one generation "
                                                      "batch) into RUN_DIR-smoke, then each step's time and peak memory "
                                                      "and a projection of the full run's."),
    check: bool = typer.Option(False, "--check", help="Check everything before any work (extras, Hub revisions, model, "
                                                      "tokenizer and prompt format, data, suites, tasks, judges, disk, "
                                                      "cluster) and print the table; exit 2 on any FAIL. Runs nothing."),
) -> None:
    """Run the whole sweep (mix -> train -> generate -> judge -> report); safe to kill and re-run."""
    from ..run import parse_only, run

    if smoke:
        from ..run.smoke import smoke as smoke_run

        smoke_run(config, out, data_dir=data_dir)
        return
    if check:
        from ..run.runner import check as check_run

        text, ok = check_run(config, out, data_dir=data_dir, executor=executor)
        typer.echo(text)
        if not ok:
            raise typer.Exit(2)
        return
    run(config, out, dry_run=dry_run, only=parse_only(only), data_dir=data_dir, executor=executor)


def prefetch_cmd(
    config: Path = typer.Argument(..., help="Run config YAML whose model, data, suites, tasks and judges to fetch."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Fetch everything a run needs into the caches (on a login node with internet), so that compute nodes run
    with HF_HUB_OFFLINE=1; pins each Hub id to its commit. Exit 2 if anything could not be fetched."""
    from ..config import load_run_config
    from ..run.prefetch import prefetch, table

    cfg = load_run_config(config, {"data": {"data_dir": str(data_dir) if data_dir else None}})
    rows = prefetch(cfg)
    typer.echo(table(rows))
    if not all(r.ok for r in rows):
        raise typer.Exit(2)


def audit_cmd(
    config: Path = typer.Argument(..., help="Audit config YAML: models (built-ins, folders, Hub ids), suites, judges "
                                            "(see configs/audit-offline.yaml)."),
    out: Optional[Path] = typer.Option(None, help="Audit folder (default: runs/<config name>)."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Evaluate existing models, no training: a row per model (harm, over-refusal, quality, capability)."""
    from ..run.audit import audit

    out_dir = audit(config, out, data_dir)
    typer.echo(f"report: {out_dir / 'report.html'}")


def card_cmd(
    run_dir: Path = typer.Argument(..., help="A run folder with a report."),
    k: int = typer.Option(..., "--k", help="The point whose adapter the card describes."),
    seed: Optional[int] = typer.Option(None, help="Its seed (default: the run's first)."),
    out: Optional[Path] = typer.Option(None, help="Card folder (default: RUN_DIR/cards/k{K}-seed{S})."),
    push: Optional[str] = typer.Option(None, help="Upload adapter + card to this Hub repo (token from HF_TOKEN)."),
) -> None:
    """Write a Hugging Face model card (and a copy of the adapter) for one point of a run."""
    from ..report.card import build_card, push_card
    from ..run.runner import ensure_steps

    ensure_steps(run_dir)
    folder = build_card(run_dir, k, seed, out)
    typer.echo(f"card: {folder / 'README.md'}")
    if push:
        typer.echo(f"pushed: {push_card(folder, push)}")


def status_cmd(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Show which steps of a run are done."""
    from ..run import status

    typer.echo(status(run_dir))


def report_cmd(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """(Re)write the report of a run from its finished points."""
    from ..run import report
    from ..run.pins import load_run_folder

    paths = report(load_run_folder(run_dir), run_dir)
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")

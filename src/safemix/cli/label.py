"""``safemix label``: label a sample of a run's answers in the browser (or import labels from a CSV)."""

from __future__ import annotations

from pathlib import Path

import typer


def label_cmd(
    run_dir: Path = typer.Argument(..., help="A run folder with judged answers."),
    n: int = typer.Option(100, "--n", min=2, help="Answers to show (the sample's first n; stop anywhere, any prefix "
                                                  "is a valid sample)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw (kept in RUN_DIR/labels/sample.json)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one)."),
    from_csv: Path = typer.Option(None, "--from", help="Import labels from a CSV (uid,label[,gives]) instead of serving."),
    export: Path = typer.Option(None, "--export", help="Write the sample's first n answers to a CSV to label elsewhere."),
) -> None:
    """Label a stratified random sample of a run's answers (uncertain verdicts over-sampled) on a page served on
    127.0.0.1; labels are saved after each click to RUN_DIR/labels/, and 'safemix report' then adds each judge's
    agreement with you and the prediction-powered estimate of every headline rate."""
    from ..label import export_csv, import_csv, prepare, save_labels
    from ..label.server import LabelSession, serve
    from ..run.runner import ensure_steps

    ensure_steps(run_dir)
    units, sample, labels = prepare(run_dir, seed)
    if export:
        export_csv(export, sample, units, n)
        typer.echo(f"wrote the sample's first {min(n, len(units))} answers to {export}; label them, then "
                   f"'safemix label {run_dir} --seed {seed} --from FILE'")
        return
    if from_csv:
        new = import_csv(from_csv, sample, units)
        save_labels(run_dir, {**labels, **new})
        typer.echo(f"imported {len(new)} labels into {run_dir / 'labels'}; run 'safemix report {run_dir}'")
        return
    session = LabelSession(run_dir, sample, units, labels, n)
    server = serve(session, port)
    typer.echo(f"labelling {len(session.queue)} answers ({session.done()} done) at http://127.0.0.1:{server.server_port}/ "
               "(Ctrl-C stops; labels are saved after each click)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    typer.echo(f"{session.done()} of {len(session.queue)} labelled; run 'safemix report {run_dir}'", err=True)

"""``safemix track RUN_DIR``: a run's points to experiment trackers (again, or for the first time)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import add_flags, tracking_flag_list, tracking_flags


@add_flags(tracking_flag_list())
def track_cmd(
    run_dir: Path = typer.Argument(..., help="A run folder with a report."),
    flags: Optional[dict] = None,
) -> None:
    """Log each finished point of a run to the trackers of its config's tracking: section and/or the
    ones named here (points already logged are skipped)."""
    from ..config import load_run_config
    from ..errors import SafemixError
    from ..run.runner import ensure_steps
    from ..track import discover
    from ..track.sweep import track_run

    cfg = load_run_config(run_dir / "config.yaml")
    ensure_steps(run_dir)
    cfg.tracking = tracking_flags(flags or {}, cfg.tracking)
    if not cfg.tracking.any():
        raise SafemixError(f"{run_dir / 'config.yaml'}: no tracking: section, and none of "
                           + ", ".join(f"--{name}" for name in discover()) + " given")
    for line in track_run(cfg, run_dir):
        typer.echo(line)

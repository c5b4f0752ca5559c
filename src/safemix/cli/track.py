"""``safemix track RUN_DIR``: a run's points to experiment trackers (again, or for the first time)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import Mlflow, MlflowExperiment, Tensorboard, Wandb, WandbMode, tracking_flags


def track_cmd(
    run_dir: Path = typer.Argument(..., help="A run folder with a report."),
    mlflow: Optional[str] = Mlflow,
    mlflow_experiment: str = MlflowExperiment,
    wandb: Optional[str] = Wandb,
    wandb_mode: Optional[str] = WandbMode,
    tensorboard: Optional[Path] = Tensorboard,
) -> None:
    """Log each finished point of a run to the trackers of its config's tracking: section and/or the
    ones named here (points already logged are skipped)."""
    from ..config import load_run_config
    from ..errors import SafemixError
    from ..run.runner import ensure_steps
    from ..track.sweep import track_run

    cfg = load_run_config(run_dir / "config.yaml")
    ensure_steps(run_dir)
    cfg.tracking = tracking_flags(mlflow, mlflow_experiment, wandb, wandb_mode, tensorboard, cfg.tracking)
    if not cfg.tracking.any():
        raise SafemixError(f"{run_dir / 'config.yaml'}: no tracking: section, and none of --mlflow, --wandb, "
                           "--tensorboard given")
    for line in track_run(cfg, run_dir):
        typer.echo(line)

"""Options that several commands share, declared once."""

from __future__ import annotations

import typer

DataDir = typer.Option(None, "--data-dir", envvar="SAFEMIX_DATA_DIR",
                       help="Folder with local copies of the data sets, laid out as in the registry "
                            "(env: SAFEMIX_DATA_DIR).")
BaseModel = typer.Option(None, "--model", help="Base model: built-in name, folder or Hub id (default: the adapter "
                                              "manifest's base model).")

# experiment tracking (safemix train, safemix track): one flag set per tracker of safemix.track
Mlflow = typer.Option(None, "--mlflow", help="Log to MLflow: a tracking URI (http(s)://, sqlite:///) or a folder "
                                             "(a local file store).")
MlflowExperiment = typer.Option("safemix", "--mlflow-experiment", help="MLflow experiment name.")
Wandb = typer.Option(None, "--wandb", help="Log to Weights & Biases: PROJECT or ENTITY/PROJECT.")
WandbMode = typer.Option(None, "--wandb-mode", help="online or offline (default: W&B's own, WANDB_MODE).")
Tensorboard = typer.Option(None, "--tensorboard", help="Write TensorBoard event files under this folder.")


def tracking_flags(mlflow, mlflow_experiment, wandb, wandb_mode, tensorboard, base=None):
    """The tracking section the flags ask for, over ``base`` (a run config's ``tracking:``); paths
    given on the command line are taken as given (relative to the working directory)."""
    from pathlib import Path

    from ..config import MlflowOptions, TensorboardOptions, TrackingSection, WandbOptions
    from ..errors import SafemixError

    section = base.model_copy() if base is not None else TrackingSection()
    if mlflow:
        uri = mlflow if "://" in mlflow or mlflow.startswith(("file:", "sqlite:")) else str(Path(mlflow).resolve())
        section.mlflow = MlflowOptions(uri=uri, experiment=mlflow_experiment)
    if wandb:
        if wandb_mode not in (None, "online", "offline"):
            raise SafemixError(f"--wandb-mode: expected online or offline, got '{wandb_mode}'")
        entity, _, project = wandb.rpartition("/")
        section.wandb = WandbOptions(project=project, entity=entity or None, mode=wandb_mode, dir=str(Path.cwd()))
    if tensorboard:
        section.tensorboard = TensorboardOptions(log_dir=str(Path(tensorboard).resolve()))
    return section

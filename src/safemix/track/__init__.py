"""Experiment tracking (MLflow, Weights & Biases, TensorBoard): a sweep's points as tracker runs,
and ``safemix train``'s loss curve live. Backends register themselves in :data:`TRACKERS`."""

from . import mlflow, tensorboard, wandb  # noqa: F401  (each registers itself)
from .base import TRACKERS, Tracker, open_trackers, tracker

__all__ = ["TRACKERS", "Tracker", "open_trackers", "tracker"]

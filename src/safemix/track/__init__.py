"""Experiment tracking (MLflow, Weights & Biases, TensorBoard): a sweep's points as tracker runs,
and ``safemix train``'s loss curve live. Backends are modules of ``track/backends/`` and register
themselves in :data:`TRACKERS` (with their options) when first discovered."""

from .base import TRACKERS, Tracker, discover, open_trackers, tracker, tracking_section

__all__ = ["TRACKERS", "Tracker", "discover", "open_trackers", "tracker", "tracking_section"]

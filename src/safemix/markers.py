"""Completion markers: a stage's output folder is finished when the stage itself wrote ``done.json``,
last. A stage removes the marker before it changes the folder, and a consumer refuses a folder
without it, naming the command that finishes it -- so a killed ``generate`` or ``judge`` never
passes for a complete one.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from .artifacts import StepMarker
from .errors import SafemixError
from .fileio import atomic_write_json

DONE = "done.json"


def clear_done(folder: Path) -> None:
    (Path(folder) / DONE).unlink(missing_ok=True)


def mark_done(folder: Path, stage: str, **info) -> Path:
    path = Path(folder) / DONE
    atomic_write_json(path, StepMarker(stage=stage, **info).dump())
    return path


def require_done(folder: Path, stage: str, finish: str) -> dict:
    """The marker of a finished ``stage`` output, or a one-line error naming the command ``finish``."""
    path = Path(folder) / DONE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise SafemixError(f"{folder}: incomplete {stage} output (no {DONE}: the {stage} was killed or is still "
                           f"running); finish it with: {finish}") from None
    except (OSError, ValueError) as exc:
        raise SafemixError(f"{path}: unreadable completion marker ({exc})") from None
    if isinstance(doc, dict) and "stage" not in doc:  # written by safemix run <= 0.1 after the stage returned
        return doc
    try:
        marker = StepMarker.model_validate(doc)
    except ValidationError:
        marker = None
    if marker is None or marker.stage != stage:
        raise SafemixError(f"{path}: not a finished {stage} output")
    return marker.dump()

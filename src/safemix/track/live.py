"""``safemix train --mlflow/--wandb/--tensorboard``: the training curve logged while it trains.

The tracker runs' ids are kept in ``OUT.partial/tracking.json``; a resumed training replaces the
cut-off tracker run with one holding the kept log rows replayed, then goes on live, so no step is
logged twice. The finished output folder keeps the file (where its curve went)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..artifacts import TRAIN_LOG
from ..errors import SafemixError
from ..fileio import atomic_write_json
from .base import Tracker, failure_line, flatten
from .curve import curve_values, train_curve

STATE = "tracking.json"


class LiveTracking:
    def __init__(self, trackers: list[Tracker], out: Path, cfg, data: str):
        self.trackers, self.name, self.out = trackers, Path(out).resolve().name, str(Path(out).resolve())
        self.params = flatten({**cfg.model_dump(exclude={"progress"}), "data": data})

    def start(self, work: Path) -> None:
        self.state_path = work / STATE
        try:
            state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {}
        except ValueError:
            state = {}
        self.state = {}
        for t in self.trackers:  # a tracker that cannot start stops the training before its first step
            try:
                run_id = t.start(self.name, {"safemix.train": self.out}, self.params,
                                 resume=state.get(t.name, {}).get("run_id"))
                self.state[t.name] = {"run_id": run_id, "done": False}
                for step, values in train_curve(work / TRAIN_LOG):  # kept from before a resume
                    t.log_metrics(values, step)
            except Exception as exc:
                raise SafemixError(failure_line(t, self.name, exc)) from None
        atomic_write_json(self.state_path, self.state)

    def log(self, row: dict) -> None:
        values = curve_values(row)
        if values and isinstance(row.get("step"), int):
            for t in list(self.trackers):
                self._safely(t, t.log_metrics, values, row["step"])

    def finish(self, final: dict[str, float]) -> None:
        for t in list(self.trackers):
            if final:
                self._safely(t, t.log_metrics, final)
            if self._safely(t, t.finish):
                self.state[t.name]["done"] = True
        atomic_write_json(self.state_path, self.state)

    def _safely(self, t: Tracker, call, *args) -> bool:
        """A tracker failing mid-training is dropped with one warning; the training goes on."""
        try:
            call(*args)
            return True
        except Exception as exc:
            print(f"warning: {failure_line(t, self.name, exc)}; no more logging to it in this training", file=sys.stderr)
            self.trackers.remove(t)
            return False

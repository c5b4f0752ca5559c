"""TensorBoard: one event folder per tracker run under ``log_dir`` (``tensorboard --logdir``). Params
go to the HParams dashboard (with the headline metrics, so its table is the sweep table) and, as
YAML, to a text summary; TensorBoard has no artifacts, so the report's location is a text summary."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from pydantic import Field

from ...plugins import Options
from ..base import Tracker, tracker


class TensorboardOptions(Options):
    """TensorBoard event files, one folder per tracker run."""
    log_dir: str = Field("tensorboard", description="where the event files go (in a config, relative to the run folder)")


@tracker("tensorboard", TensorboardOptions, flag="log_dir")
class TensorboardTracker(Tracker):
    package = "tensorboard"

    @classmethod
    def from_flags(cls, values):
        return {**values, "log_dir": str(Path(values["log_dir"]).resolve())} if values.get("log_dir") else values

    def _root(self) -> Path:
        return (self.base / self.options.log_dir).resolve()

    def where(self) -> str:
        return f"tensorboard {self._root()}"

    def start(self, name, tags, params, resume=None):
        from torch.utils.tensorboard import SummaryWriter

        run_id = re.sub(r"[^A-Za-z0-9_.=-]", "_", name)
        self.folder = self._root() / run_id
        if self.folder.exists():  # logged before but not finished (or re-logged): written afresh
            shutil.rmtree(self.folder)
        self.writer = SummaryWriter(str(self.folder))
        self.params, self.final = {**params, **tags}, {}
        self.writer.add_text("tags", "\n".join(f"    {k}: {v}" for k, v in sorted(tags.items())))
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in sorted(params.items())))
        return run_id

    def log_metrics(self, metrics, step=None):
        for key, value in metrics.items():
            self.writer.add_scalar(key, float(value), step or 0)
            if step is None:
                self.final[key] = float(value)

    def log_artifacts(self, folder: Path, name: str) -> None:
        self.writer.add_text(name, f"files in `{Path(folder).resolve()}`: " +
                             ", ".join(sorted(p.name for p in Path(folder).iterdir())))

    def finish(self):
        if self.final:  # the run's params beside its summary metrics: TensorBoard's HParams table
            hparams = {k: v for k, v in self.params.items() if len(v) <= 200}
            self.writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in self.final.items()}, run_name=".")
        self.writer.close()

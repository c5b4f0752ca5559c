"""Weights & Biases: ``project`` / ``entity``, ``mode`` online or offline (offline runs are written
under ``dir`` and uploaded later with ``wandb sync``). The API key comes from W&B's own login or
``WANDB_API_KEY`` and is never logged. A tracker run whose logging was cut off is resumed under its
id (W&B drops the steps it already has), not duplicated."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field

from ...errors import SafemixError
from ...plugins import Options
from ..base import Tracker, tracker


class WandbOptions(Options):
    """Weights & Biases, online or offline (synced later with wandb sync)."""
    project: str = Field("safemix", description="W&B project (on the command line: PROJECT or ENTITY/PROJECT)")
    entity: str | None = Field(None, description="W&B entity (user or team)")
    mode: Literal["online", "offline"] | None = Field(None, description="online or offline (default: W&B's own, "
                                                                        "WANDB_MODE, else online)")
    dir: str | None = Field(None, description="where W&B writes its files (in a config, relative to the run folder; "
                                              "default the run folder, or the working directory)")


@tracker("wandb", WandbOptions, flag="project")
class WandbTracker(Tracker):
    package = "wandb"

    @classmethod
    def from_flags(cls, values):
        entity, _, project = values.get("project", "").rpartition("/")
        out = {**values, "project": project, "dir": str(Path(values.get("dir") or Path.cwd()).resolve())}
        return {**out, "entity": entity} if entity and not values.get("entity") else out

    def _dir(self) -> Path:
        return (self.base / (self.options.dir or ".")).resolve()

    def where(self) -> str:
        o = self.options
        return f"wandb {o.entity + '/' if o.entity else ''}{o.project} ({o.mode or 'default mode'}, files under {self._dir()})"

    def start(self, name, tags, params, resume=None):
        import wandb

        o = self.options
        run_id = resume or uuid.uuid4().hex[:16]
        self._dir().mkdir(parents=True, exist_ok=True)
        config = {k: _value(v) for k, v in params.items()}
        try:
            self.run = wandb.init(project=o.project, entity=o.entity, mode=o.mode, dir=str(self._dir()), name=name,
                                  id=run_id, resume="allow", config=config, reinit="create_new",
                                  settings=wandb.Settings(silent=True),
                                  tags=[f"{k}={v}"[:64] for k, v in tags.items() if not k.startswith("key.")])
        except Exception as exc:  # wandb raises its own errors (login, network, bad entity)
            raise SafemixError(f"{self.where()}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self.run.config.update({f"tag.{k}": v for k, v in tags.items()}, allow_val_change=True)
        return run_id

    def log_metrics(self, metrics, step=None):
        if step is None:
            self.run.summary.update({k: float(v) for k, v in metrics.items()})
        else:
            self.run.log({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifacts(self, folder: Path, name: str) -> None:
        import wandb

        art = wandb.Artifact(f"{self.run.id}-{name}", type=name)
        art.add_dir(str(folder))
        self.run.log_artifact(art)

    def finish(self):
        self.run.finish()


def _value(text: str):
    """Params arrive as strings; W&B's config keeps numbers as numbers (its table sorts them)."""
    try:
        return json.loads(text)
    except ValueError:
        return text

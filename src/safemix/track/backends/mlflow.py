"""MLflow: a tracking server (``http(s)://``), a database (``sqlite:///``, needs the full ``mlflow``)
or a local file store (a folder; MLflow 3 keeps it in maintenance mode, so safemix sets
``MLFLOW_ALLOW_FILE_STORE`` for the folder the config names). Credentials come from MLflow's own
environment variables and are never logged."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import Field

from ...errors import SafemixError
from ...plugins import Options
from ..base import Tracker, redact, tracker


def _is_uri(uri: str) -> bool:
    return "://" in uri or uri.startswith(("file:", "sqlite:", "databricks"))


class MlflowOptions(Options):
    """MLflow: a tracking server, a database or a local file store."""
    uri: str = Field("mlruns", description="a tracking URI (http(s)://, sqlite:///) or a folder (a local file store; "
                                           "in a config, relative to the run folder)")
    experiment: str = Field("safemix", description="MLflow experiment name")


@tracker("mlflow", MlflowOptions, flag="uri")
class MlflowTracker(Tracker):
    package = "mlflow"

    @classmethod
    def from_flags(cls, values):
        uri = values.get("uri")
        return {**values, "uri": str(Path(uri).resolve())} if uri and not _is_uri(uri) else values

    def _uri(self) -> str:
        uri = self.options.uri
        if _is_uri(uri):
            return uri
        return (self.base / uri).resolve().as_uri()  # a folder: the file store

    def where(self) -> str:
        return f"mlflow {redact(self._uri())} (experiment {self.options.experiment})"

    def _client(self):
        from mlflow.tracking import MlflowClient

        uri = self._uri()
        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return MlflowClient(tracking_uri=uri)

    def start(self, name, tags, params, resume=None):
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException

        self.client = client = self._client()
        try:
            exp = client.get_experiment_by_name(self.options.experiment)
            exp_id = exp.experiment_id if exp else client.create_experiment(self.options.experiment)
            if resume:  # a run whose logging was cut off: replaced, so no metric is logged twice
                try:
                    client.delete_run(resume)
                except MlflowException:
                    pass
            run = client.create_run(exp_id, tags=tags, run_name=name)
            self.run_id = run.info.run_id
            items = [Param(k, v[:6000]) for k, v in params.items()]
            for i in range(0, len(items), 100):  # MLflow's batch limit for params
                client.log_batch(self.run_id, params=items[i:i + 100])
        except MlflowException as exc:
            raise SafemixError(redact(f"{self.where()}: {exc.message.splitlines()[0]}")) from None
        return self.run_id

    def log_metrics(self, metrics, step=None):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i:i + 1000])

    def log_artifacts(self, folder: Path, name: str) -> None:
        self.client.log_artifacts(self.run_id, str(folder), name)

    def finish(self):
        self.client.set_terminated(self.run_id)

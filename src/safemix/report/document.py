"""``report/results.json``: a run's results as one typed document. Its rows are :class:`ResultRow` (one per suite x
k x seed x judge x metric), its ``metrics`` section declares each metric in the rows (report/metrics.py), and its
``run`` section says what made them: the config's hash, safemix's version, the model and the Hub commits. The
report writes ``results.csv`` from the same rows (the same bytes as before the document existed); consumers read the
document with :func:`read_results`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import SafemixError, validation_line
from ..fileio import atomic_write_text
from .metrics import metric_specs

SCHEMA_VERSION = 1
RESULTS_JSON = "results.json"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResultRow(_Doc):
    suite: str  # a report group: a suite, its safe / unsafe half, all-harmful, SUITE@ATTACK
    k: int
    seed: int | Literal["pooled"]
    judge: str  # "-" for the answers' own metrics, lm-eval for capability
    metric: str
    n: int
    value: int | float
    ci_low: int | float | None = None  # None: no interval (written empty in results.csv)
    ci_high: int | float | None = None


class MetricInfo(_Doc):
    label: str
    higher: Literal["worse", "better", "neither"]
    rate: bool
    interval: str
    by: str


class RunInfo(_Doc):
    name: str | None = None
    model: str | None = None
    config_sha256: str | None = None  # of the validated config (its JSON, keys sorted)
    safemix_version: str
    revisions: dict[str, str] = {}  # config key -> the spec with its Hub commit (revisions.json)


class Results(_Doc):
    schema_version: Literal[1] = SCHEMA_VERSION
    run: RunInfo
    metrics: dict[str, MetricInfo]
    rows: list[ResultRow]


def results_document(rows: list[dict], run: dict | None = None) -> Results:
    from .. import __version__

    specs = metric_specs()
    used = set(r["metric"] for r in rows)
    metrics = {m: MetricInfo(label=s.label, higher=s.higher, rate=s.rate, interval=s.interval, by=s.by)
               for m, s in specs.items() if m in used}
    # a capability task's other lm-eval metrics are nobody's declaration: said so
    metrics |= {m: MetricInfo(label=m.replace("_", " "), higher="neither", rate=False, interval="stderr", by="undeclared")
                for m in sorted(used - set(metrics))}
    return Results(run=RunInfo(safemix_version=__version__, **(run or {})), metrics=metrics,
                   rows=[ResultRow(**r) for r in rows])


def write_results(out: Path, doc: Results) -> Path:
    path = Path(out) / RESULTS_JSON
    atomic_write_text(path, doc.model_dump_json(indent=1) + "\n")
    return path


def read_results(run_dir: str | Path) -> Results:
    """A run's ``report/results.json``, checked; a one-line error when it is missing or is not one."""
    path = Path(run_dir) / "report" / RESULTS_JSON
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise SafemixError(f"{path}: no results document yet; run 'safemix report {run_dir}' first") from None
    try:
        return Results.model_validate_json(text)
    except ValidationError as exc:
        raise SafemixError(f"{path}: not a safemix results document ({validation_line(exc, limit=1)})") from None


def read_rows(run_dir: str | Path) -> list[dict]:
    """The rows of a run's results document as plain dicts (typed values: k and n ints, seed an int or 'pooled')."""
    return [r.model_dump() for r in read_results(run_dir).rows]

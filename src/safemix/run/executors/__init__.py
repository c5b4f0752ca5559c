"""Where a sweep's points run: ``local`` (this process, the default), ``slurm`` (submitit jobs) or
``ray`` (Ray tasks). Each executor is one module of this package that registers itself with
:func:`register`; the registry imports every module, so adding an engine is adding one file.

An executor only decides *where* a point runs: every job runs ``run/point.py``'s ``run_point`` -- the same
``safemix run --only k=K,seed=S`` as a local process -- so the per-step locks and completion markers
stay the single record of what is done, a re-submitted sweep skips finished steps, and a job killed
mid-training resumes from its checkpoint.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...errors import SafemixError

EXECUTORS: dict[str, Callable] = {}


@dataclass(frozen=True)
class PointJob:
    """One (k, seed) point of a sweep, as a job runs it."""
    config: str  # the run folder's config.yaml (absolute)
    run_dir: str
    k: int
    seed: int
    data_dir: str | None = None

    @property
    def point(self) -> str:
        return f"k={self.k} seed={self.seed}"


@dataclass
class JobOutcome:
    point: str
    executor: str
    job_id: str | None
    state: str  # COMPLETED, FAILED, CANCELLED, ...
    reason: str | None = None  # one line, when it did not complete
    log: str | None = None


class Executor:
    """An engine's executor: ``run_points(jobs, name, on_submit)`` runs each job's ``run_point``
    where the engine puts it and returns one :class:`JobOutcome` per job; logs go to ``folder``."""
    name = ""

    def __init__(self, options, run_dir: Path):
        self.o, self.run_dir = options, Path(run_dir)
        self.folder = self.run_dir / "jobs" / self.name

    def check(self) -> None:
        """Raise a one-line :class:`SafemixError` when this machine cannot submit (checked before any work)."""

    def run_points(self, jobs: list[PointJob], name: str, on_submit=None) -> list[JobOutcome]:
        raise NotImplementedError


def register(name: str):
    def deco(factory):
        EXECUTORS[name] = factory
        return factory
    return deco


def _discover() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def available() -> list[str]:
    return sorted(EXECUTORS)


def get_executor(name: str, options, run_dir: Path):
    if name not in EXECUTORS:
        raise SafemixError(f"unknown executor '{name}' (known: {', '.join(available())})")
    return EXECUTORS[name](options, Path(run_dir))


def one_line(exc: BaseException) -> str:
    """The last meaningful line of an exception (a job's traceback ends with its reason)."""
    lines = [x.strip() for x in str(exc).strip().splitlines() if x.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


_discover()

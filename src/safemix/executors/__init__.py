"""Where a sweep's points run: ``local`` (this process, the default), ``slurm`` (submitit jobs) or
``ray`` (Ray tasks). Each executor is one module of this package that registers itself with
:func:`register`; the registry imports every module, so adding an engine is adding one file.

An executor registers with its options model (the run config's ``executor:`` section is generated from them)
and only decides *where* a point runs: every job runs the target the pipeline hands it, ``run/runner.py``'s
``run_point`` -- the same
``safemix run --only k=K,seed=S`` as a local process -- so the per-step locks and completion markers
stay the single record of what is done, a re-submitted sweep skips finished steps, and a job killed
mid-training resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import Field, field_validator

from ..errors import exception_line
from ..plugins import Options, Registry, section

EXECUTORS: Registry[type["Executor"]] = Registry("executor", packages=(__name__,))  # every module of this package


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
    """An engine's executor: ``run_points(jobs, name, on_submit)`` runs ``target(job)`` for each job where the
    engine puts it and returns one :class:`JobOutcome` per job; logs go to ``folder``."""
    name = ""
    Options: type[Options]  # its options model (given at registration)

    def __init__(self, options, run_dir: Path, target: Callable | None = None):
        self.o, self.run_dir, self.target = options, Path(run_dir), target
        self.folder = self.run_dir / "jobs" / self.name

    def check(self) -> None:
        """Raise a one-line :class:`SafemixError` when this machine cannot submit (checked before any work)."""

    def run_points(self, jobs: list[PointJob], name: str, on_submit=None) -> list[JobOutcome]:
        raise NotImplementedError


def register(name: str, options: type[Options]):
    """Register an executor class under ``name`` with its options model (``executor: {kind: NAME, NAME: {...}}``)."""
    def deco(cls):
        cls.name, cls.Options = name, options
        return EXECUTORS.add(name, cls)
    return deco


def available() -> list[str]:
    return sorted(EXECUTORS)


def kinds() -> list[str]:
    """What ``executor.kind`` may be: ``local`` (this process) and every registered executor."""
    return ["local", *available()]


class _Where(Options):
    kind: str = Field("local", description="where the points run: local (this process) or a registered executor")
    isolate: bool | None = Field(None, description="run each step in its own child process, so that training's and "
                                 "vLLM's memory goes back to the device between steps (default: on where a CUDA GPU "
                                 "is present; also inside each cluster job)")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in kinds():
            raise ValueError(f"unknown executor '{v}' (known: {', '.join(kinds())})")
        return v


def executor_section() -> type:
    """The run config's ``executor:`` section: ``kind`` and each executor's options (its defaults when not given)."""
    return section("ExecutorSection", "Where the points run; not part of any step key (a point gives the same "
                   "result anywhere).", {n: cls.Options for n, cls in sorted(EXECUTORS.items())}, optional=False,
                   base=_Where)


def get_executor(name: str, options, run_dir: Path, target: Callable | None = None):
    return EXECUTORS.known(name)(options, Path(run_dir), target)


def one_line(exc: BaseException) -> str:
    """A job's failure as one line: the last meaningful line (a job's traceback ends with its reason)."""
    return exception_line(exc, last=True)


@contextlib.contextmanager
def output_to(log: str):
    """This process's stdout and stderr (file descriptors 1 and 2, so libraries' output too) appended to ``log``."""
    import os
    import sys

    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a", encoding="utf-8") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])

"""What an executor's job runs: one point of a sweep, the same ``safemix run --only k=K,seed=S`` as a local
process (kept apart from the executors' registry, so the runner imports the registry and the engines import
this, without a circle)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from .executors import PointJob


def run_point(job: PointJob, log: str | None = None) -> str:
    """Run one point's steps (what a job executes); returns the point. ``log``: send this process's
    output there too (Ray workers; SLURM jobs already write their own log files)."""
    from .runner import run

    with _output_to(log) if log else contextlib.nullcontext():
        run(job.config, job.run_dir, only={"k": job.k, "seed": job.seed}, data_dir=job.data_dir, executor="local",
            report_after=False)
    return job.point


@contextlib.contextmanager
def _output_to(log: str):
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

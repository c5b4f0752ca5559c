"""One writer per step: an exclusive lock beside the step's folder.

``<stage>/<key>.lock`` is held with ``flock`` for as long as its owner works on the step, and holds
the owner's host, pid, start time and cluster job, if any (for ``safemix status``). The kernel drops the lock when the
owner dies, however it dies, so a lock left by a killed process is stale by construction and the
next process simply takes it. A step whose lock is held is "running" for everyone else, who skip
it -- so several processes (or cluster jobs on one file system) can share one run folder safely.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path


def lock_path(step_path: Path) -> Path:
    return step_path.with_name(step_path.name + ".lock")


def holder(step_path: Path) -> dict | None:
    """Who holds a step's lock ({host, pid, since}), or None when nobody does."""
    path = lock_path(step_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 4096, 0) or b"{}") or {"host": "?", "pid": None}
            except ValueError:
                return {"host": "?", "pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _slurm_job() -> str | None:
    """This process's SLURM job as squeue/scancel name it (``ARRAY_TASK`` for an array task)."""
    env = os.environ
    if "SLURM_ARRAY_JOB_ID" in env and "SLURM_ARRAY_TASK_ID" in env:
        return f"slurm {env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return f"slurm {env['SLURM_JOB_ID']}" if "SLURM_JOB_ID" in env else None


class StepLock:
    """``with StepLock(step.path) as got:`` -- ``got`` is False when another process holds the step."""

    def __init__(self, step_path: Path):
        self.path = lock_path(step_path)
        self.fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the file we locked may have been unlinked by its previous owner meanwhile: retry
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        job = os.environ.get("SAFEMIX_JOB") or _slurm_job()
        os.pwrite(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(),
                                  "job": job}).encode(), 0)
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still holding it: nobody can lock the old file and win
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

"""Each step in its own child process (``executor: {isolate: true}``; on by default where a CUDA GPU is present).

A training's or vLLM engine's memory then goes back to the device when its step ends, instead of staying with
the one process that runs the judges, lm-eval and the next point's training: the sweep's peak is its largest
step's, not what the steps leave behind added up. The child gets the run config as the driver validated and
pinned it (JSON in a file beside the step, never pickled), plans the sweep again, runs the one step, and writes
its peak memory; a SafemixError in it is the driver's one-line error, any other failure leaves its traceback on
stderr and names the step.

A child is forked from a fork server (multiprocessing's ``forkserver``) that has imported torch, transformers and
safemix once, so a step starts in about 0.2 s instead of 3-5 s of imports (twelve steps of a smoke run). The server
has no thread pool and no CUDA context when it forks. Its modules read variables such as ``HF_HUB_OFFLINE`` when
imported, so it is used only while the environment is the one it started with; otherwise (a test that changes a
variable, say) each step is a fresh ``python -m safemix.run.child``. Either way the child writes to the driver's
current stdout and stderr, in the driver's current folder.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from multiprocessing import reduction
from pathlib import Path

from ..errors import SafemixError
from ..fileio import atomic_write_text

ENV_ISOLATED = "SAFEMIX_ISOLATED_STEP"  # set in the child: it must not isolate again
PRELOAD = ["torch", "transformers", "peft", "safemix.run.runner", "safemix.run.child"]
_server_env: dict | None = None  # the environment the fork server started with


def isolated(kind: str, isolate: bool | None) -> bool:
    """Whether steps run in child processes: as configured, else when a CUDA GPU is present (local executor)."""
    if os.environ.get(ENV_ISOLATED):
        return False
    if isolate is not None:
        return isolate
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def run_in_child(cfg_doc: dict, run_dir: Path, step_path: Path, progress: bool) -> dict:
    """Run the step at ``step_path`` in a child process; returns its peaks ({peak_rss_mb, gpu_peak_mb})."""
    work = step_path.parent / f".{step_path.name}.child"
    work.mkdir(parents=True, exist_ok=True)
    config, result = work / "config.json", work / "result.json"
    result.unlink(missing_ok=True)
    atomic_write_text(config, json.dumps({"config": cfg_doc, "run_dir": str(run_dir), "step": str(step_path),
                                          "progress": progress}))
    code = _start(str(config), str(result))
    try:
        doc = json.loads(result.read_text())
    except (OSError, ValueError):
        doc = {}
    for f in (config, result):
        f.unlink(missing_ok=True)
    try:
        work.rmdir()
    except OSError:
        pass
    if doc.get("error"):
        raise SafemixError(doc["error"])
    if code != 0 or not doc.get("ok"):
        raise SafemixError(f"step {step_path.parent.name}/{step_path.name} failed in its own process "
                           f"(exit {code}); its traceback is above")
    return {k: doc.get(k) for k in ("peak_rss_mb", "gpu_peak_mb")}


def _start(config: str, result: str) -> int:
    """Run the child to its end; its exit status."""
    global _server_env
    if sys.platform.startswith("linux") and os.environ.get("SAFEMIX_FORKSERVER", "1") != "0":
        if _server_env is None:
            _server_env = dict(os.environ)
            multiprocessing.set_forkserver_preload(PRELOAD)
        if _server_env == dict(os.environ):
            ctx = multiprocessing.get_context("forkserver")
            proc = ctx.Process(target=_forked, args=(config, result, os.getcwd(), _Fd(1), _Fd(2)), daemon=False)
            proc.start()
            proc.join()
            return proc.exitcode
    return subprocess.run([sys.executable, "-m", "safemix.run.child", config, result],
                          env={**os.environ, ENV_ISOLATED: "1"}).returncode


class _Fd:
    """One of the driver's file descriptors, handed to the forked child (the server's own are those of the moment it
    started)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        return _Fd._received, (reduction.DupFd(self.fd),)

    @staticmethod
    def _received(dup) -> int:
        return dup.detach()


def _forked(config: str, result: str, cwd: str, out: int, err: int) -> None:
    for fd, target in ((out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(cwd)
    os.environ[ENV_ISOLATED] = "1"
    from .child import main

    sys.exit(main(config, result))

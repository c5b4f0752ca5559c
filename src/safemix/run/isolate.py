"""Each step in its own child process (``executor: {isolate: true}``; on by default where a CUDA GPU is present).

A training's or vLLM engine's memory then goes back to the device when its step ends, instead of staying with
the one process that runs the judges, lm-eval and the next point's training: the sweep's peak is its largest
step's, not what the steps leave behind added up. The child gets the run config as the driver validated and
pinned it (JSON in a file beside the step, never pickled), plans the sweep again, runs the one step, and writes
its peak memory; a SafemixError in it is the driver's one-line error, any other failure leaves its traceback on
stderr and names the step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import SafemixError
from ..fileio import atomic_write_text

ENV_ISOLATED = "SAFEMIX_ISOLATED_STEP"  # set in the child: it must not isolate again


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
    proc = subprocess.run([sys.executable, "-m", "safemix.run.child", str(config), str(result)],
                          env={**os.environ, ENV_ISOLATED: "1"})
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
    if proc.returncode != 0 or not doc.get("ok"):
        raise SafemixError(f"step {step_path.parent.name}/{step_path.name} failed in its own process "
                           f"(exit {proc.returncode}); its traceback is above")
    return {k: doc.get(k) for k in ("peak_rss_mb", "gpu_peak_mb")}

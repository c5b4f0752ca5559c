"""The child process of an isolated step (run/isolate.py): ``python -m safemix.run.child CONFIG.json RESULT.json``.

Not imported by the ``safemix.run`` package, so that running it as ``__main__`` does not import it twice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import SafemixError
from ..fileio import atomic_write_text


def main(config: str, result: str) -> int:
    from ..config import RunConfig
    from ..models.cpu_memory import keep_freed_memory
    from .plan import execute, plan
    from .timings import peak_rss_mb

    keep_freed_memory()
    doc = json.loads(Path(config).read_text())
    try:
        cfg = RunConfig.model_validate(doc["config"])
        step = next((s for s in plan(cfg, Path(doc["run_dir"])) if str(s.path) == doc["step"]), None)
        if step is None:
            raise SafemixError(f"{doc['step']}: not a step of this run's plan")
        execute(step, cfg, doc["progress"])
    except SafemixError as exc:
        atomic_write_text(Path(result), json.dumps({"error": str(exc), "peak_rss_mb": peak_rss_mb()}))
        return 2
    atomic_write_text(Path(result), json.dumps({"ok": True, "peak_rss_mb": peak_rss_mb(), "gpu_peak_mb": _gpu_peak()}))
    return 0


def _gpu_peak() -> float | None:
    """The step's peak GPU memory allocated by torch (None without a GPU; vLLM's own pool is not counted)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return round(max(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count())) / 2 ** 20, 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

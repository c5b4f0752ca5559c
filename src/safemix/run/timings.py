"""What each step of a sweep cost: seconds and the process's peak memory after it, recorded in
``run.json`` and used for the sweep's ETA.

Steps differ a hundredfold in length (a training vs a judge), so the ETA is not steps remaining ×
mean step: each remaining step is estimated by the measured mean of its own stage, from this call or,
before one has finished here, from the previous call's ``run.json``. Stages with no measurement yet
are named rather than guessed.
"""

from __future__ import annotations

import resource
import sys
from collections import defaultdict
from datetime import timedelta


def peak_rss_mb() -> float:
    """This process's own peak resident memory so far: Linux's VmHWM (the high-water mark of this program's memory;
    getrusage's ru_maxrss also carries the peak of the process that forked it, kept across exec, so a step's child
    would report at least its parent's size), else ru_maxrss (Linux reports KiB, macOS bytes)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class StepTimes:
    def __init__(self, previous: list | None = None):
        self.records: list[dict] = []
        self._prior: dict[str, list[float]] = defaultdict(list)
        for r in previous or []:
            if isinstance(r, dict) and isinstance(r.get("stage"), str) and isinstance(r.get("seconds"), (int, float)):
                self._prior[r["stage"]].append(float(r["seconds"]))

    def record(self, stage: str, point: str, seconds: float, peaks: dict | None = None) -> dict:
        """``peaks``: a step run in its own process reports its own (``peak_rss_mb``, and ``gpu_peak_mb`` where it had
        a GPU); else the peak is this process's so far."""
        rec = {"stage": stage, "point": point, "seconds": round(seconds, 1), "peak_rss_mb": peak_rss_mb(),
               **{k: v for k, v in (peaks or {}).items() if v is not None}}
        self.records.append(rec)
        return rec

    def mean(self, stage: str) -> float | None:
        here = [r["seconds"] for r in self.records if r["stage"] == stage]
        seen = here or self._prior.get(stage)
        return sum(seen) / len(seen) if seen else None

    def eta(self, remaining: list[str]) -> str:
        """``remaining``: the stage of each step still to run. E.g. ``ETA 0:07:10`` or
        ``ETA ≥ 0:02:00 (capability, quality not measured yet)``; empty when nothing is known."""
        if not remaining:
            return ""
        known = [m for m in map(self.mean, remaining) if m is not None]
        unknown = sorted({s for s in remaining if self.mean(s) is None})
        if not known or (unknown and sum(known) < 60):  # a lower bound of seconds says nothing
            return ""
        text = str(timedelta(seconds=int(sum(known))))
        return f"ETA {text}" if not unknown else f"ETA ≥ {text} ({', '.join(unknown)} not measured yet)"

    def heaviest(self) -> dict | None:
        """The step after which the peak memory first reached its maximum: where memory went."""
        if not self.records:
            return None
        top = max(r["peak_rss_mb"] for r in self.records)
        return next(r for r in self.records if r["peak_rss_mb"] == top)

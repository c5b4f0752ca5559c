"""Progress that tells the truth on a terminal and in a log file alike.

On a terminal: a live rich bar (done / total, rate, ETA from measured work). Not on a terminal
(a log, a cluster job's output): a plain line every ``every`` seconds and one at the end, e.g.
``[22:35:10] generate k=50 seed=1: 120/460 prompts (26%), 231 tok/s, ETA 0:01:10``.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

PLAIN_EVERY = 30.0  # seconds between plain lines


def _eta(seconds: float) -> str:
    return str(timedelta(seconds=int(max(0, seconds))))


class Ticker:
    """``advance(n, tokens=..., **fields)`` as work is done; ``close()`` at the end."""

    def __init__(self, label: str, total: int, unit: str, *, enabled: bool = True, start: int = 0,
                 every: float = PLAIN_EVERY, stream=None, live: bool | None = None):
        self.label, self.total, self.unit, self.done, self.every = label, total, unit, start, every
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.t0 = self.last = time.monotonic()
        self.done0, self.tokens, self.fields, self.printed = start, 0, {}, None
        self.live = (live if live is not None else self.stream.isatty()) and enabled
        self.bar = None
        if self.live:
            self.bar = RichProgress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[extra]}"),
                                    TimeRemainingColumn(), console=Console(file=self.stream), transient=False)
            self.task = self.bar.add_task(label, total=total, completed=start, extra="")
            self.bar.start()

    def rate(self) -> tuple[float, float]:
        """(units/s, tokens/s) measured since this ticker started."""
        dt = max(time.monotonic() - self.t0, 1e-9)
        return (self.done - self.done0) / dt, self.tokens / dt

    def line(self) -> str:
        per_s, tok_s = self.rate()
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        parts = [f"{self.done}/{self.total} {self.unit}{pct}"]
        parts += [f"{k} {v}" for k, v in self.fields.items()]
        if self.tokens:
            parts.append(f"{tok_s:,.0f} tok/s")
        if per_s > 0 and self.done < self.total:
            parts.append(f"ETA {_eta((self.total - self.done) / per_s)}")
        return f"[{datetime.now():%H:%M:%S}] {self.label}: " + ", ".join(parts)

    def skip(self, n: int) -> None:
        """Count ``n`` units done earlier (a resumed call) without crediting them to the measured rate."""
        self.done += n
        self.done0 += n

    def advance(self, n: int = 1, tokens: int = 0, **fields) -> None:
        self.done += n
        self.tokens += tokens
        self.fields.update(fields)
        if not self.enabled:
            return
        if self.bar is not None:
            extra = " ".join([f"{k} {v}" for k, v in self.fields.items()] +
                             ([f"{self.rate()[1]:,.0f} tok/s"] if self.tokens else []))
            self.bar.update(self.task, completed=self.done, extra=extra)
        elif time.monotonic() - self.last >= self.every:
            self._print()

    def _print(self) -> None:
        self.last, self.printed = time.monotonic(), self.done
        print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        elif self.enabled and self.printed != self.done:  # the last periodic line may already say it
            self._print()

"""A training progress bar with tokens/s and ETA (rich, on stderr)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, enabled: bool = True, start: int = 0, tokens: int = 0, elapsed: float = 0.0):
        self.tokens, self.elapsed = tokens, elapsed
        self.bar = None
        if enabled:
            self.bar = RichProgress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s"),
                                    TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self.task = self.bar.add_task("train", total=total, completed=start, loss="-", tps="-")
            self.bar.start()

    def update(self, step: int, tokens: int, dt: float, loss: float) -> None:
        self.tokens += tokens
        self.elapsed += dt
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=f"{loss:.3f}",
                            tps=f"{self.tokens / max(self.elapsed, 1e-9):,.0f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

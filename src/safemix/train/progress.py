"""Training progress: steps, loss and tokens/s (a live bar on a terminal, plain lines in a log)."""

from __future__ import annotations

from ..progress import Ticker


class Progress:
    def __init__(self, total: int, enabled: bool = True, start: int = 0, label: str = "train"):
        self.ticker = Ticker(label, total, "steps", enabled=enabled, start=start)

    def update(self, step: int, tokens: int, dt: float, loss: float) -> None:
        self.ticker.advance(step - self.ticker.done, tokens=tokens, loss=f"{loss:.3f}")

    def close(self) -> None:
        self.ticker.close()

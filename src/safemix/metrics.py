"""A metric's declaration (who produces it declares it once: a judge, a stage, the report): its label, which
direction is worse, whether it is a rate and how its interval is made. The report's registry is
``report/metrics.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Interval = Literal["wilson", "bootstrap", "paired-bootstrap", "stderr", "ppi"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    label: str  # the report's heading for its table
    higher: Literal["worse", "better", "neither"] = "neither"  # what a higher value means
    rate: bool = True  # a share of answers (0/1 each): its interval is Wilson's
    interval: Interval = "wilson"  # how its 95% interval is made (pooled seeds: the two-way bootstrap)
    order: int = 200  # where its table goes among the report's (lower first)
    shown: bool = True  # a table of its own in the report
    by: str = "report"  # who declares it: the report, a judge kind or judge id, a stage

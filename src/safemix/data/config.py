"""The run config's ``data:`` section (the mixture stage's): which sets, how many general examples, the k axis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, field_validator

from ..plugins import Section, one_of


class DataSection(Section):
    general: str
    n_general: StrictInt = Field(gt=0)
    safety: str = "safety-tuned-llamas"
    k: list[StrictInt]
    strategy: str = "random"  # a key of data.select.STRATEGIES
    leakage: Literal["off", "text", "embed"] = "text"  # check each mixture against the eval suites (warns)
    data_dir: str | None = None
    allow_unpinned: bool = False  # download registry sets without a pinned sha256 (alpaca-cleaned)

    _strategy = field_validator("strategy")(lambda v: one_of(v, _strategies(), "selection strategy"))

    @field_validator("k")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 0 for k in v):
            raise ValueError("k must be a non-empty list of integers >= 0")
        return sorted(set(v))


def _strategies():
    from .select import STRATEGIES

    return STRATEGIES

"""The run config's ``data:`` section (the mixture stage's): which sets, how many general examples, the k axis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, field_validator

from ..plugins import Section, one_of


class DataSection(Section):
    """The mixtures: N general examples plus k safety demonstrations for each k of the sweep."""
    general: str  # the general (helpfulness) data: a registry name, a file or hf:ORG/NAME
    n_general: StrictInt = Field(gt=0)  # general examples in every mixture (N)
    safety: str = "safety-tuned-llamas"  # the safety demonstrations (registry name or file)
    k: list[StrictInt]  # the safety examples per mixture: the sweep's axis
    strategy: str = "random"  # a key of data.select.STRATEGIES
    leakage: Literal["off", "text", "embed"] = "text"  # check each mixture against the eval suites (warns)
    data_dir: str | None = None  # where the data copies are (else $SAFEMIX_DATA_DIR)
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

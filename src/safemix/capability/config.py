"""The run config's ``capability:`` section (the capability stage's)."""

from __future__ import annotations

from pydantic import Field

from ..plugins import Section


class CapabilitySection(Section):
    """lm-evaluation-harness tasks per k (extra [lmeval]): harness names (the paper: piqa, boolq,
    openbookqa), NAME=items.jsonl for local multiple-choice data, or the shipped safemix-mini-mc."""
    tasks: list[str] = Field(min_length=1)  # lm-eval tasks, NAME=items.jsonl, or safemix-mini-mc
    num_fewshot: int = Field(0, ge=0)  # few-shot examples per item
    limit: int | None = Field(None, gt=0)  # score only the first N items of each task
    batch_size: int = Field(8, gt=0)  # batch size of the log-likelihood requests

"""The run config's ``capability:`` section (the capability stage's)."""

from __future__ import annotations

from pydantic import Field

from ..plugins import Section


class CapabilitySection(Section):
    """lm-evaluation-harness tasks per k (extra [lmeval]): harness names (the paper: piqa, boolq,
    openbookqa), NAME=items.jsonl for local multiple-choice data, or the shipped safemix-mini-mc."""
    # each field's description is its help in the config reference and its flag's in 'safemix eval capability --help'
    tasks: list[str] = Field(min_length=1, description="lm-eval task names (download their data), NAME=items.jsonl "
                             "(local multiple choice) or safemix-mini-mc (shipped); comma-separated on the command line")
    num_fewshot: int = Field(0, ge=0, description="few-shot examples per item (the paper: 0)")
    limit: int | None = Field(None, gt=0, description="score only the first N items of each task")
    batch_size: int = Field(8, gt=0, description="batch size of the harness's log-likelihood requests")

"""The run config's judge sections: ``judge_options:`` (generated from the judges' options models), ``budget:`` (the judge stage's) and ``quality:`` (the quality stage's)."""

from __future__ import annotations

from pydantic import Field

from ..plugins import Section
from .base import options_section

JudgeOptions = options_section()  # every registered judge's options


class BudgetSection(Section):
    """An expensive judge on a sample of the answers (stratified over k, seed and suite), the cheap
    one on all; the report gives the prediction-powered estimate beside the cheap-only and
    sample-only ones."""
    judge: str  # the expensive judge (not in ``judges``)
    cheap: str  # the cheap judge (one of ``judges``), of the same kind
    fraction: float = Field(gt=0, le=1)  # the share of answers the expensive judge sees
    seed: int = 0  # seed of the stratified sample


class QualitySection(Section):
    """Pairwise answer quality against the baseline k's answers on one suite (the paper: I-Alpaca,
    OpenAssistant's reward model = quality-rm; offline: quality-relevance)."""
    judge: str = "quality-rm"  # the quality judge: quality-rm (the paper's) or quality-relevance (offline)
    judge_model: str | None = None  # quality-rm: a local reward-model folder or Hub id
    suite: str = "I-Alpaca"  # the suite whose answers are compared
    baseline_k: int = 0  # the k every other k is compared against

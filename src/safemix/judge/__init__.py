"""The judge stage: refusal, harmfulness and quality judges, and their agreement with humans.

Each judge registers itself in its own module (see ``base.register``); the registry imports them all."""

from ..stats import bootstrap_ci, win_rate
from .agreement import evaluate_judge, judge_vs_judge, read_labels, write_labels
from .base import COMPLIANCE, KINDS, PARTIAL, REFUSAL, REFUSAL_LABELS, Judge, Verdict, available, get_judge, get_judges, registry
from .llm import LLMJudge, parse_verdict
from .metrics import agreement, auroc
from .quality import RelevanceJudge
from .refusal_clf import RefusalClassifier
from .reward_model import RewardModelJudge
from .stage import JudgeFailures, judge, read_generations
from .strmatch import strmatch_label
from .validation import leave_one_model_out, rate_errors, validate, validate_labels, xstest_gpt4_judge_labels

__all__ = ["evaluate_judge", "judge_vs_judge", "read_labels", "write_labels", "COMPLIANCE", "KINDS", "PARTIAL", "REFUSAL",
           "REFUSAL_LABELS", "Judge", "Verdict", "available", "get_judge", "get_judges", "registry",
           "LLMJudge", "parse_verdict", "agreement", "auroc", "bootstrap_ci", "RelevanceJudge", "win_rate",
           "RefusalClassifier", "RewardModelJudge", "JudgeFailures", "judge", "read_generations", "strmatch_label",
           "leave_one_model_out", "rate_errors", "validate", "validate_labels", "xstest_gpt4_judge_labels"]

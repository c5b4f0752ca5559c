"""The data stage: registry, loaders, mixtures and the leakage check."""

from .leakage import Leak, check_leakage, normalise
from .load import Loaded, load_instructions, load_preferences, load_suite, load_suites
from .mix import Mixture, build_mixtures, leakage_summary, mix, parse_ks, write_mixtures
from .readers import read_eval_json, read_instructions, read_preferences, read_prompts, read_xstest, read_xstest_completions
from .records import EvalPrompt, Instruction, LabelledCompletion, PreferencePair
from .registry import PAPER_SUITES, REGISTRY, SUITE_GROUPS, DatasetSpec, expand_suites, get_spec
from .resolve import Resolved, data_dir, find_local, resolve
from .select import STRATEGIES

__all__ = [
    "Leak", "check_leakage", "normalise", "Loaded", "load_instructions", "load_preferences",
    "load_suite", "load_suites", "Mixture", "build_mixtures", "leakage_summary", "mix", "parse_ks", "write_mixtures",
    "read_eval_json", "read_instructions", "read_preferences", "read_prompts", "read_xstest",
    "read_xstest_completions", "EvalPrompt", "Instruction", "LabelledCompletion", "PreferencePair",
    "PAPER_SUITES", "REGISTRY", "SUITE_GROUPS", "DatasetSpec", "expand_suites", "get_spec",
    "Resolved", "data_dir", "find_local", "resolve", "STRATEGIES",
]

"""Models: built-in offline models, safe loading, the sentence encoder."""

from .builtin import BUILTINS, materialise
from .load import ModelRef, fingerprint, load_causal_lm, load_tokenizer, resolve_model

__all__ = ["BUILTINS", "materialise", "ModelRef", "fingerprint", "load_causal_lm", "load_tokenizer", "resolve_model"]

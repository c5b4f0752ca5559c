"""The generate stage: batched, cached, resumable answers to the eval suites."""

from ..models.trained import load_model, read_adapter
from ..store import SuiteStore, record_key
from .hf import Completion, HFBackend
from .presets import PRESETS, Decoding, get_decoding
from .stage import generate, load_backend, subsample

__all__ = ["Completion", "HFBackend", "PRESETS", "Decoding", "get_decoding", "generate", "load_backend", "load_model",
           "read_adapter", "subsample", "SuiteStore", "record_key"]

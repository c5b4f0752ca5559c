"""Resolve a model spec (built-in name, local folder or Hub id) and load it safely.

Safe by default: safetensors only, ``trust_remote_code`` only when asked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import SafemixError
from ..fileio import cache_dir, sha256_file
from .builtin import BUILTINS, MARKER, materialise
from .hub import TOKENIZER_FILES, hub_model, resolve_revision, snapshot

WEIGHT_SUFFIXES = (".safetensors",)


@dataclass(frozen=True)
class ModelRef:
    spec: str  # what the user wrote
    path: str  # local folder (a Hub model's: its pinned snapshot in the Hub cache)
    fingerprint: str  # content hash (local) or hub:id@commit
    revision: str | None = None  # a Hub model's commit sha


def resolve_model(spec: str, download: bool = True) -> ModelRef:
    """A model spec as a local folder: a built-in (converted once), a folder, or a Hub id ``org/name[@REV]``
    pinned to its commit (from the cache when offline). ``download=False``: a Hub model is resolved to its commit
    and only its config and tokenizer files are fetched (``--check``)."""
    if spec in BUILTINS:
        folder = materialise(spec)
        return ModelRef(spec, str(folder), fingerprint(folder))
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SafemixError(f"model folder {path} has no config.json")
        if not any(p.suffix in WEIGHT_SUFFIXES for p in path.iterdir()):
            raise SafemixError(f"model folder {path} has no .safetensors weights (safemix loads safetensors only)")
        return ModelRef(spec, str(path), fingerprint(path))
    hid = hub_model(spec)
    if hid is None:
        known = ", ".join(BUILTINS)
        raise SafemixError(f"unknown model '{spec}': not a built-in ({known}), a model folder, or a Hub id "
                           "(org/name[@revision])")
    sha = resolve_revision(hid)
    folder = snapshot(hid, sha, None if download else TOKENIZER_FILES)
    if download and not any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir()):
        raise SafemixError(f"model '{spec}' (commit {sha[:12]}) has no .safetensors weights (safemix loads safetensors "
                           "only)")
    return ModelRef(spec, str(folder), f"hub:{hid.pinned(sha)}", sha)


def fingerprint(folder: Path) -> str:
    """sha256 over a model folder's weight and config files, memoised by (size, mtime)."""
    marker = folder / MARKER
    if marker.is_file():
        m = json.loads(marker.read_text())
        return hashlib.sha256(f"{m['gguf_sha256']}:{m['builtin']}".encode()).hexdigest()
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES + (".json",))
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    memo = cache_dir("fingerprints", hashlib.sha256(f"{folder.resolve()}|{stamp}".encode()).hexdigest())
    if memo.is_file():
        return memo.read_text().strip()
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.name}:{sha256_file(p)}\n".encode())
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(h.hexdigest())
    return h.hexdigest()


def load_tokenizer(ref: ModelRef, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ref.path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(ref: ModelRef, dtype=None, trust_remote_code: bool = False, quantization_config=None,
                   device_map=None):
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        return AutoModelForCausalLM.from_pretrained(
            ref.path, dtype=dtype or torch.float32, use_safetensors=True, trust_remote_code=trust_remote_code,
            quantization_config=quantization_config, device_map=device_map)
    except (OSError, ValueError, SafetensorError) as exc:
        raise SafemixError(f"cannot load model '{ref.spec}' from {ref.path}: {str(exc).splitlines()[0]}") from None

"""Shared pieces of the learned offline judges: encoder features, safe weight files, the cache."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, cache_dir

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def head(text: str, chars: int = 200) -> str:
    """The first sentence (at most ``chars`` characters): where a refusal usually shows."""
    first = _SENTENCE.split(text.strip(), maxsplit=1)[0] if text.strip() else ""
    return first[:chars]


def cache_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def save_weights(path: Path, meta: dict, **arrays: np.ndarray) -> None:
    """Weights as .npz (no pickle) plus a JSON sidecar with metadata, both atomic."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=2))


def load_weights(path: Path, arrays: tuple[str, ...] = (), fields: tuple[str, ...] = ()) -> tuple[dict, dict[str, np.ndarray]] | None:
    """(metadata, arrays) of a cached weight file, or None when it is missing, empty, corrupt or lacks
    one of ``arrays`` / metadata ``fields``: the caller then trains again and rewrites it."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        with np.load(path, allow_pickle=False) as z:
            got = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if not isinstance(meta, dict) or any(a not in got for a in arrays) or any(f not in meta for f in fields):
        return None
    return meta, got


def judge_cache(name: str) -> Path:
    return cache_dir("judges", name)

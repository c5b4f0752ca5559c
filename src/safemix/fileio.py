"""Small file helpers shared by every stage: atomic writes, hashing, the user cache."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import (os.umask can only be read by setting it)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    A crash or exception leaves ``path`` untouched and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file follows the user's umask
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:  # a full disk names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_temporaries(folder: str | os.PathLike) -> int:
    """Remove the temporary files that :func:`atomic_path` left under ``folder`` when its process was killed
    (``.NAME.XXXX.tmp``); call it only where no other process writes now. Returns how many."""
    n = 0
    for tmp in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else ():
        if tmp.is_file() and not tmp.is_symlink():
            tmp.unlink(missing_ok=True)
            n += 1
    return n


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy ``src`` to ``dst`` atomically; a symlink at ``dst`` is replaced, never written through."""
    import shutil

    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def inside(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path``, refused (one-line error) when it or a folder on the way to it is a symlink leading
    out of ``root``: what a run writes stays in its run folder."""
    from .errors import SafemixError

    root_real, real = Path(root).resolve(), Path(path).resolve()
    if real != root_real and root_real not in real.parents:
        raise SafemixError(f"{path}: leads out of {root} (through a symlink); refusing to write there")
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Canonical JSON used for every file safemix writes: stable, readable, UTF-8."""
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def cache_dir(*parts: str) -> Path:
    """The user cache: ``$SAFEMIX_CACHE_DIR``, else ``$XDG_CACHE_HOME/safemix``, else ``~/.cache/safemix``."""
    root = os.environ.get("SAFEMIX_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "safemix")
    return Path(root).joinpath(*parts)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text: a string that would start a formula (a suite file named
    ``=cmd|...``) gets a leading apostrophe; numbers, and the plain "-" of rows without a judge, stay."""
    if isinstance(value, str) and value.startswith(_FORMULA) and value != "-":
        return "'" + value
    return value

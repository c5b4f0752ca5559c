"""Find a data set: data folder -> user cache -> download (sha256 checked)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import SafemixError
from ..fileio import atomic_path, cache_dir, sha256_file
from .registry import REGISTRY, DatasetSpec

ENV_DATA_DIR = "SAFEMIX_DATA_DIR"
ENV_OFFLINE = "SAFEMIX_OFFLINE"
# a mirror that keeps the data folder's layout (<mirror>/<spec.local>): a site's own copy, or a file server on a login node
ENV_MIRROR = "SAFEMIX_DATA_MIRROR"


def source_url(spec: DatasetSpec) -> str:
    """Where a registry data set is downloaded from: the mirror, when one is set, else its pinned source."""
    mirror = os.environ.get(ENV_MIRROR)
    return f"{mirror.rstrip('/')}/{spec.local}" if mirror else spec.url


@dataclass(frozen=True)
class Resolved:
    path: Path
    sha256: str
    origin: str  # data-dir | cache | package | download | file
    spec: DatasetSpec | None


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    value = explicit if explicit is not None else os.environ.get(ENV_DATA_DIR)
    return Path(value).expanduser() if value else None


def _checked(path: Path, spec: DatasetSpec, origin: str) -> Resolved:
    digest = sha256_file(path)
    if spec.sha256 and digest != spec.sha256:
        raise SafemixError(
            f"{path}: sha256 {digest} does not match the registry's {spec.sha256} for '{spec.name}' "
            f"(replace the file with the pinned copy from {spec.url}, or pass the file path to use it as your own data)"
        )
    return Resolved(path, digest, origin, spec)


def find_local(spec: DatasetSpec, data_dir_: str | os.PathLike | None = None) -> Resolved | None:
    """A verified local copy in the data folder or the user cache, or None."""
    root = data_dir(data_dir_)
    if root is not None:
        for candidate in (root / spec.local, root / Path(spec.local).name):
            if candidate.is_file():
                return _checked(candidate, spec, "data-dir")
    cached = cache_dir("data", spec.local)
    if cached.is_file():
        return _checked(cached, spec, "cache")
    shipped = package_file(spec)
    if shipped is not None:
        return _checked(shipped, spec, "package")
    return None


def package_file(spec: DatasetSpec) -> Path | None:
    """The copy an installed package ships (``package:`` in the data set's file), found without importing it."""
    if spec.package is None:
        return None
    import importlib.util

    try:
        found = importlib.util.find_spec(spec.package[0])
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / spec.package[1]
    return path if path.is_file() else None


def download(spec: DatasetSpec, *, allow_unpinned: bool = False, timeout: float = 60.0) -> Resolved:
    """Download ``spec`` into the user cache; the file appears only once its sha256 checks out."""
    if spec.sha256 is None and not allow_unpinned:
        raise SafemixError(
            f"data set '{spec.name}' has no pinned sha256; put a copy at <data dir>/{spec.local} "
            f"or allow an unpinned download (safemix data mix --allow-unpinned; data.allow_unpinned in a run config)"
        )
    target = cache_dir("data", spec.local)
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(source_url(spec), timeout=timeout) as resp, open(tmp, "wb") as f:
                while block := resp.read(1 << 20):
                    f.write(block)
            digest = sha256_file(tmp)
            if spec.sha256 and digest != spec.sha256:
                raise SafemixError(
                    f"download of '{spec.name}' from {source_url(spec)}: sha256 {digest} does not match "
                    f"the pinned {spec.sha256}; the file was not used"
                )
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SafemixError(
            f"data set '{spec.name}' has no local copy and could not be downloaded from {source_url(spec)} ({reason}): "
            f"put {Path(spec.local).name} from {spec.url} at <data dir>/{spec.local} "
            f"and pass --data-dir or set {ENV_DATA_DIR}"
        ) from None
    return Resolved(target, digest, "download", spec)


def resolve(
    name_or_path: str | os.PathLike,
    data_dir_: str | os.PathLike | None = None,
    *,
    allow_download: bool = True,
    allow_unpinned: bool = False,
) -> Resolved:
    """Resolve a registry name or a file path to a verified local file."""
    text = str(name_or_path)
    spec = REGISTRY.get(text.lower())
    if spec is None:
        path = Path(text).expanduser()
        if path.is_file():
            return Resolved(path, sha256_file(path), "file", None)
        known = ", ".join(sorted(REGISTRY))
        raise SafemixError(f"'{text}' is neither a file nor a known data set (known: {known})")
    found = find_local(spec, data_dir_)
    if found is not None:
        return found
    if not allow_download or os.environ.get(ENV_OFFLINE):
        raise SafemixError(
            f"data set '{spec.name}' has no local copy: "
            + (f"{spec.package[2]} (it ships one), or " if spec.package else "")
            + f"put {Path(spec.local).name} from {spec.url} at <data dir>/{spec.local} and pass --data-dir or set "
            f"{ENV_DATA_DIR}"
        )
    return download(spec, allow_unpinned=allow_unpinned)

"""The tracker protocol and its registry.

A tracker logs one *tracker run* at a time: ``start`` (name, tags, params; ``resume`` an id this
tracker gave before, or replace it), ``log_metrics`` (a step's scalars), ``log_artifacts`` (a folder),
``finish``. Each backend is one module of this package that registers itself with ``@tracker``;
the run config's ``tracking:`` section and the CLI flags list what derives from :data:`TRACKERS`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, ClassVar

from ..errors import SafemixError
from ..secrets import redact  # noqa: F401  (re-exported: trackers mask URIs in messages)

TRACKERS: dict[str, type["Tracker"]] = {}


def tracker(name: str) -> Callable[[type["Tracker"]], type["Tracker"]]:
    def register(cls: type[Tracker]) -> type[Tracker]:
        cls.name = name
        TRACKERS[name] = cls
        return cls
    return register


class Tracker:
    """One backend. ``options`` is its section of the run config's ``tracking:``; relative paths in
    it resolve against ``base`` (the run folder, or the training's output folder's parent)."""
    name: ClassVar[str]
    package: ClassVar[str]  # the import that must work (checked before any work)
    extra: ClassVar[str] = "track"

    def __init__(self, options, base: Path):
        self.options, self.base = options, Path(base)

    @classmethod
    def check(cls) -> None:
        import importlib.util

        if importlib.util.find_spec(cls.package) is None:
            raise SafemixError(f"tracking.{cls.name} needs the '{cls.package}' package: "
                               f"pip install 'safemix[{cls.extra}]'")

    def where(self) -> str:
        """Where the runs go, for a log line (no credentials)."""
        raise NotImplementedError

    def start(self, name: str, tags: dict[str, str], params: dict[str, str], resume: str | None = None) -> str:
        """Open a tracker run and return its id; ``resume``: an id this tracker returned before for the
        same run, whose logging did not finish (its partial content is replaced)."""
        raise NotImplementedError

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        raise NotImplementedError

    def log_artifacts(self, folder: Path, name: str) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


def metric_name(*parts: str) -> str:
    """A metric key every backend accepts: letters, digits, ``_ - . /`` (others become ``_``)."""
    return "/".join(re.sub(r"[^A-Za-z0-9_./-]", "_", p) for p in parts if p)


def flatten(doc, prefix: str = "") -> dict[str, str]:
    """A nested config as ``a.b.c -> value`` strings (lists as JSON), the form trackers take params in."""
    import json

    out: dict[str, str] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    out[prefix[:-1]] = doc if isinstance(doc, str) else json.dumps(doc)
    return out


def open_trackers(section, base: Path) -> list[Tracker]:
    """The trackers a ``tracking:`` section enables (each one's package checked first)."""
    found = []
    for name, cls in TRACKERS.items():
        options = getattr(section, name, None) if section is not None else None
        if options is not None:
            cls.check()
            found.append(cls(options, base))
    return found


def one_line(t: Tracker, name: str, exc: Exception) -> str:
    """A tracker's failure as one line, credentials in URIs masked (tracker libraries print them)."""
    if isinstance(exc, SafemixError):
        return redact(str(exc))
    text = str(exc).splitlines()[0] if str(exc) else ""
    return redact(f"{t.where()}: {name}: {type(exc).__name__}: {text}")

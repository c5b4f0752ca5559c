"""The tracker protocol and its registry.

A tracker logs one *tracker run* at a time: ``start`` (name, tags, params; ``resume`` an id this
tracker gave before, or replace it), ``log_metrics`` (a step's scalars), ``log_artifacts`` (a folder),
``finish``. Each backend is one module of ``track/backends/`` that registers itself with ``@tracker``
together with its options model; the run config's ``tracking:`` section and the command line's flags
(``--NAME`` sets the backend's ``flag`` field, ``--NAME-FIELD`` the others) are generated from them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, ClassVar

from ..errors import SafemixError, exception_line
from ..plugins import Options, Registry, section
from ..secrets import redact  # noqa: F401  (re-exported: trackers mask URIs in messages)

TRACKERS: Registry[type["Tracker"]] = Registry("tracker", packages=("safemix.track.backends",))


def tracker(name: str, options: type[Options], flag: str) -> Callable[[type["Tracker"]], type["Tracker"]]:
    """Register a backend under ``name`` with its options model; ``flag`` is the field that ``--NAME VALUE``
    sets on the command line (giving it turns the backend on)."""
    if flag not in options.model_fields:
        raise TypeError(f"tracker '{name}': flag '{flag}' is not a field of {options.__name__}")

    def register(cls: type[Tracker]) -> type[Tracker]:
        cls.name, cls.Options, cls.flag = name, options, flag
        return TRACKERS.add(name, cls)
    return register


def discover() -> dict[str, type["Tracker"]]:
    """The registered backends by name (the first read imports ``track/backends/`` and the plug-ins)."""
    return dict(sorted(TRACKERS.items()))


def tracking_section() -> type:
    """The run config's ``tracking:`` section: one optional field per backend, holding its options."""
    base = type("_Tracking", (Options,), {
        "any": lambda self: any(getattr(self, n) is not None for n in type(self).model_fields)})
    return section("TrackingSection", "Experiment trackers (extra [track]); any combination. Each sweep point becomes "
                   "one tracker run tagged with k, seed and its step keys: its training curve, config, metrics with "
                   "intervals and the report as artifacts. Not part of any step key.",
                   {n: cls.Options for n, cls in discover().items()}, optional=True, base=base)


class Tracker:
    """One backend. ``options`` is its section of the run config's ``tracking:``; relative paths in
    it resolve against ``base`` (the run folder, or the training's output folder's parent)."""
    name: ClassVar[str]
    Options: ClassVar[type[Options]]  # its options model (given at registration)
    flag: ClassVar[str]  # the field --NAME sets
    package: ClassVar[str]  # the import that must work (checked before any work)
    extra: ClassVar[str] = "track"

    def __init__(self, options, base: Path):
        self.options, self.base = options, Path(base)

    @classmethod
    def from_flags(cls, values: dict) -> dict:
        """The options as given on the command line, before validation (a backend may resolve paths against the
        working directory or split a combined value)."""
        return values

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
    for name, cls in discover().items():
        options = getattr(section, name, None) if section is not None else None
        if options is not None:
            cls.check()
            found.append(cls(options, base))
    return found


def failure_line(t: Tracker, name: str, exc: Exception) -> str:
    """A tracker's failure as one line (a library's summary, its first line), credentials in URIs masked (tracker
    libraries print them)."""
    if isinstance(exc, SafemixError):
        return redact(str(exc))
    return redact(f"{t.where()}: {name}: {type(exc).__name__}: {exception_line(exc) if str(exc) else ''}")

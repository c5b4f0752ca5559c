"""Plug-in options: a judge, an executor or a tracker declares its options as an :class:`Options` model when it
registers, and the run config's sections (``judge_options:``, ``executor:``, ``tracking:``) and the command
line's flags are generated from those models, so an option is written once, beside the code that reads it.

Plug-ins outside safemix register the same way from their own module, loaded before any registry is read: a
package names it under the ``safemix.plugins`` entry-point group, or ``$SAFEMIX_PLUGINS`` lists module names
(comma-separated) for a module on the Python path.

A field's ``description`` is its help text (config reference and ``--help``). What stays out of a step key is said
one way, on any options model or config section: ``unkeyed`` maps each field that never changes a result (it bounds
waiting or batching, shows progress, ...) to why; ``unkeyed_at`` maps a field to the value at which it stays out of
the key and why (a field that joined after runs were made is left out at its default, so those runs resume);
:func:`keyed` is the dump a key hashes. ``NOT_IN_STEPS`` (run/stages.py) is the run config's own: fields no step
reads, each with why.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

ENV_PLUGINS = "SAFEMIX_PLUGINS"
ENTRY_POINTS = "safemix.plugins"
_loaded = False


def load_external() -> None:
    """Import the plug-in modules outside safemix once (entry points, then ``$SAFEMIX_PLUGINS``); a module that
    cannot be imported is a one-line error naming it."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from importlib.metadata import entry_points

    from .errors import SafemixError

    names = [ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINTS)]
    names += [n.strip() for n in os.environ.get(ENV_PLUGINS, "").split(",") if n.strip()]
    for name in dict.fromkeys(names):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise SafemixError(f"plug-in module '{name}' ({ENV_PLUGINS} / entry point {ENTRY_POINTS}): "
                               f"cannot import it: {exc}") from None


T = TypeVar("T")


class Registry(dict, Generic[T]):
    """One lazy registry, name -> T, for judges, executors, trackers, attacks and stages: the first read imports the
    built-in modules (``packages``: every module of each package, ``_`` ones left out; ``modules``: those modules)
    and then the plug-ins outside safemix (:func:`load_external`), each of which registers itself with :meth:`add`.
    Reads see every registration; a dict otherwise (sorted views are the caller's)."""

    def __init__(self, what: str, packages: tuple[str, ...] = (), modules: tuple[str, ...] = ()):
        super().__init__()
        self.what, self.packages, self.modules, self._discovered = what, packages, modules, False

    def add(self, name: str, item: T) -> T:
        dict.__setitem__(self, name, item)
        return item

    def discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        for package in self.packages:
            pkg = importlib.import_module(package)
            for mod in pkgutil.iter_modules(pkg.__path__):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"{package}.{mod.name}")
        for module in self.modules:
            importlib.import_module(module)
        load_external()

    def known(self, name: str) -> T:
        """The entry ``name``; an unknown one is a one-line error listing the known ones."""
        from .errors import SafemixError

        if name not in self:
            raise SafemixError(f"unknown {self.what} '{name}' (known: {', '.join(sorted(self))})")
        return self[name]

    def __getitem__(self, name):
        self.discover()
        return dict.__getitem__(self, name)

    def __contains__(self, name) -> bool:
        self.discover()
        return dict.__contains__(self, name)

    def __iter__(self):
        self.discover()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self.discover()
        return dict.__len__(self)

    def get(self, name, default=None):
        self.discover()
        return dict.get(self, name, default)

    def keys(self):
        self.discover()
        return dict.keys(self)

    def values(self):
        self.discover()
        return dict.values(self)

    def items(self):
        self.discover()
        return dict.items(self)


class Options(BaseModel):
    """A plug-in's options: unknown keys and NaN/infinite numbers are errors."""
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    unkeyed: ClassVar[dict[str, str]] = {}  # field -> why it never changes a result (out of every key)
    unkeyed_at: ClassVar[dict[str, tuple[Any, str]]] = {}  # field -> (the value at which it is out of the key, why)

    def given(self) -> dict:
        """The options set (not None)."""
        return self.model_dump(exclude_none=True)


class Section(Options):
    """A section of the run config (the same strictness as a plug-in's options)."""


def one_of(value: str, choices, what: str) -> str:
    """A validator's check that ``value`` is a key of a registry."""
    if value not in choices:
        raise ValueError(f"unknown {what} '{value}' (known: {', '.join(choices)})")
    return value


def section(name: str, doc: str, plugins: dict[str, type[Options]], optional: bool,
            base: type[BaseModel] = Options, **extra: Any) -> type[BaseModel]:
    """A config section with one field per plug-in holding its options: absent (None) when ``optional``, else
    its defaults. ``extra``: further fields, as ``create_model`` takes them."""
    fields: dict[str, Any] = {}
    for plugin, model in plugins.items():
        fields[plugin] = (model | None, None) if optional else (model, model())
    return create_model(name, __base__=base, __doc__=doc, __module__=base.__module__, **extra, **fields)


def merged(name: str, doc: str, models: list[type[Options]], leave_out: tuple[str, ...] = ()) -> type[Options]:
    """One flat options model holding every field of ``models`` (each optional, None = not given): the options
    several plug-ins share in one section (judges). Two models that declare one field differently are an error."""
    fields: dict[str, Any] = {}
    seen: dict[str, tuple[type, Any]] = {}
    unkeyed: dict[str, str] = {}
    for model in models:
        unkeyed |= model.unkeyed
        for field, info in model.model_fields.items():
            if field in leave_out:
                continue
            sig = (info.annotation, repr(info.metadata))
            if field in seen and seen[field] != sig:
                raise TypeError(f"option '{field}' is declared two ways ({seen[field]} and {sig}): make them agree")
            seen[field] = sig
            annotation = info.annotation
            fields[field] = (annotation | None, info.__class__.merge_field_infos(info, default=None))
    model = create_model(name, __base__=Options, __doc__=doc, __module__=Options.__module__, **dict(sorted(fields.items())))
    model.unkeyed = {f: why for f, why in unkeyed.items() if f in fields}
    return model


def left_out(model: BaseModel) -> set[str]:
    """The fields of ``model`` that its key leaves out now: its ``unkeyed`` ones, and its ``unkeyed_at`` ones at their
    value."""
    out = set(getattr(model, "unkeyed", {}))
    for field, (value, _why) in getattr(model, "unkeyed_at", {}).items():
        if getattr(model, field) == value:
            out.add(field)
    return out


def keyed(model: BaseModel, exclude: set[str] = frozenset()) -> dict:
    """What a step key hashes of ``model``: its dump without :func:`left_out`'s fields (and ``exclude``)."""
    out = left_out(model) | set(exclude)
    return model.model_dump(exclude=out or None)

"""Options that several commands share, declared once."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Optional

import typer

DataDir = typer.Option(None, "--data-dir", envvar="SAFEMIX_DATA_DIR",
                       help="Folder with local copies of the data sets, laid out as in the registry "
                            "(env: SAFEMIX_DATA_DIR).")
BaseModel = typer.Option(None, "--model", help="Base model: built-in name, folder or Hub id (default: the adapter "
                                              "manifest's base model).")


# --- flags generated from plug-in options models (plugins.py): one per field -----------------------------

@dataclass(frozen=True)
class Flag:
    group: str  # the plug-in (or section) the value belongs to
    field: str  # the options model's field
    name: str  # the flag without dashes, e.g. mlflow-experiment
    help: str
    boolean: bool
    metavar: str = "TEXT"
    aliases: tuple[str, ...] = ()  # further names of a value flag (without dashes)
    listed: bool = False  # a list field: the flag takes comma-separated values

    @property
    def param(self) -> str:
        return f"_{self.group}__{self.field}"


def flags_of(model, group: str, prefix: str = "", primary: str | None = None,
             aliases: dict[str, tuple[str, ...]] | None = None) -> list[Flag]:
    """One flag per field of an options model or config section: ``--PREFIX-FIELD`` (``--PREFIX`` for ``primary``;
    ``--FIELD`` without a prefix), its help from the field's description; ``aliases``: further names of a field's flag."""
    import typing

    out = []
    for field, info in model.model_fields.items():
        name = prefix if field == primary else "-".join(x for x in (prefix, field.replace("_", "-")) if x)
        boolean = info.annotation in (bool, bool | None)
        listed = any(typing.get_origin(a) is list for a in (info.annotation, *typing.get_args(info.annotation)))
        out.append(Flag(group, field, name, (info.description or field) + ("." if info.description else ""), boolean,
                        _metavar(info.annotation), tuple((aliases or {}).get(field, ())), listed))
    return out


def _metavar(annotation) -> str:
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return "[" + "|".join(map(str, typing.get_args(annotation))) + "]"
    args = [a for a in (typing.get_args(annotation) or (annotation,)) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(args[0]) is typing.Literal:
        return "[" + "|".join(map(str, typing.get_args(args[0]))) + "]"
    names = {int: "INTEGER", float: "NUMBER", str: "TEXT"}
    return "|".join(dict.fromkeys(names.get(a, "TEXT") for a in args)) or "TEXT"


def add_flags(flags: list[Flag]):
    """Give a command the generated flags; they reach it as ``flags={group: {field: value}}`` (only those given)."""
    def deco(func):
        sig = inspect.signature(func, eval_str=True)
        params = [p for p in sig.parameters.values() if p.name != "flags"]
        for f in flags:
            decl = [f"--{f.name}/--no-{f.name}"] if f.boolean else [f"--{f.name}", *(f"--{a}" for a in f.aliases)]
            params.append(inspect.Parameter(f.param, inspect.Parameter.KEYWORD_ONLY,
                                            default=typer.Option(None, *decl, help=f.help,
                                                                 metavar=None if f.boolean else f.metavar),
                                            annotation=Optional[bool] if f.boolean else Optional[str]))

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            groups: dict[str, dict] = {}
            for f in flags:
                value = kwargs.pop(f.param, None)
                if value is not None:
                    groups.setdefault(f.group, {})[f.field] = ([v.strip() for v in value.split(",") if v.strip()]
                                                               if f.listed else value)
            return func(*args, flags=groups, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params)
        return wrapper
    return deco


def validated(model, values: dict, flags: list[Flag], group: str):
    """``values`` as ``model``; a wrong value is a one-line error naming its flag."""
    from pydantic import ValidationError

    from ..errors import SafemixError, validation_line

    try:
        return model(**values)
    except ValidationError as exc:
        names = {f.field: f.name for f in flags if f.group == group}
        raise SafemixError(validation_line(exc, default=group, rename=lambda w: names.get(w.split(".")[0], w)
                                           if w != group else w, template="--{where}: {msg}")) from None


# experiment tracking (safemix train, safemix track): --NAME (the backend's flag field) and --NAME-FIELD per backend
def tracking_flag_list() -> list[Flag]:
    from ..track import discover

    return [f for name, cls in discover().items() for f in flags_of(cls.Options, name, name, cls.flag)]


def tracking_flags(given: dict, base=None):
    """The tracking section the generated flags ask for, over ``base`` (a run config's ``tracking:``): a backend is
    on when its ``--NAME`` is given; paths given on the command line are taken relative to the working directory."""
    from ..config import TrackingSection
    from ..errors import SafemixError
    from ..track import discover

    section = base.model_copy() if base is not None else TrackingSection()
    flags = tracking_flag_list()
    for name, cls in discover().items():
        values = given.get(name)
        if not values:
            continue
        if cls.flag not in values:
            raise SafemixError(f"--{', --'.join(f.name for f in flags if f.group == name and f.field in values)} "
                               f"given without --{name}")
        setattr(section, name, validated(cls.Options, cls.from_flags(values), flags, name))
    return section


# the judges' options (safemix judge): one flag per option of any registered judge
def judge_flag_list() -> list[Flag]:
    from ..config import JudgeOptions

    return flags_of(JudgeOptions, "judge_options")

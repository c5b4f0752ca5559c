"""Load data sets by registry name or file path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import SafemixError
from .readers import read_eval_json, read_instructions, read_lines, read_preferences, read_prompts, read_records, read_xstest
from .records import EvalPrompt, Instruction, PreferencePair
from .registry import REGISTRY, expand_suites
from .resolve import Resolved, resolve

PathLike = str | os.PathLike


@dataclass(frozen=True)
class Loaded:
    """Records plus where they came from (for manifests)."""

    name: str
    records: list
    resolved: Resolved | None
    origin: dict | None = None  # a ``datasets`` source: spec, revision, fingerprint (data/hf.py)

    def provenance(self) -> dict:
        if self.origin is not None:
            return {**self.origin, "records": len(self.records)}
        spec = self.resolved.spec
        return {
            "name": self.name,
            "file": Path(self.resolved.path).name,
            "sha256": self.resolved.sha256,
            "source": spec.source if spec else "user file",
            "revision": spec.revision if spec else None,
            "records": len(self.records),
        }


def _via_datasets(name, native: tuple[str, ...] = ()) -> bool:
    """A ``datasets`` source (hf:..., Parquet/Arrow/CSV, or a column mapping), not a registry name;
    files with a ``native`` suffix and no mapping stay on safemix's own reader."""
    from .hf import is_hf_spec

    text = str(name)
    if text.lower() in REGISTRY or ("?" not in text and Path(text).suffix.lower() in native):
        return False
    return is_hf_spec(text)


def _kind(name: str, expected: tuple[str, ...]) -> None:
    spec = REGISTRY.get(name.lower())
    if spec is not None and spec.kind not in expected:
        raise SafemixError(f"data set '{name}' is {spec.kind} data, not {' or '.join(expected)}")


def load_instructions(name: PathLike, data_dir: PathLike | None = None, allow_unpinned: bool = False) -> Loaded:
    """General or safety instructions; ``allow_unpinned`` lets a registry set without a pinned
    sha256 (alpaca-cleaned) be downloaded (the file's sha256 is still recorded)."""
    _kind(str(name), ("instructions",))
    if _via_datasets(name):
        from . import hf

        rows, origin, mapping = hf.load_rows(str(name))
        return Loaded(origin["name"], hf.to_instructions(rows, mapping, origin["name"], name), None, origin)
    res = resolve(name, data_dir, allow_unpinned=allow_unpinned)
    source = res.spec.name if res.spec else Path(res.path).stem
    return Loaded(source, read_instructions(res.path, source), res)


def load_suite(name: PathLike, data_dir: PathLike | None = None) -> Loaded:
    """One eval suite: a registry eval set, XSTest, or a prompt file."""
    _kind(str(name), ("eval", "xstest"))
    if _via_datasets(name, native=(".csv",)):  # CSV prompt files keep their id/label/type columns
        from . import hf

        rows, origin, mapping = hf.load_rows(str(name))
        suite = Path(origin["name"]).name
        return Loaded(suite, hf.to_prompts(rows, mapping, suite, name), None, origin)
    res = resolve(name, data_dir)
    if res.spec is None:
        suite = Path(res.path).stem
        return Loaded(suite, read_prompts(res.path, suite), res)
    spec = res.spec
    if spec.format == "records":
        return Loaded(spec.suite, read_records(res.path, spec.suite, spec.prompt_field, spec.type_field), res)
    reader = {"xstest": read_xstest, "lines": read_lines, "paper": read_eval_json}[spec.format]
    return Loaded(spec.suite, reader(res.path, spec.suite), res)


def load_suites(names: str | list[str], data_dir: PathLike | None = None) -> dict[str, Loaded]:
    """Several suites; groups such as ``paper`` and ``all`` are expanded."""
    out, spec_of = {}, {}
    for n in expand_suites(names):
        loaded = load_suite(n, data_dir)
        if loaded.name in out and _same_source(out[loaded.name], loaded):
            continue  # one suite named twice (e.g. a group and a member in another case)
        if loaded.name in out:  # answers are filed by suite name: two of one name would overwrite
            raise SafemixError(f"suites '{spec_of[loaded.name]}' and '{n}' are both named '{loaded.name}'; "
                               "rename one of the files")
        out[loaded.name], spec_of[loaded.name] = loaded, n
    if not out:
        raise SafemixError("no eval suites given")
    return out


def _same_source(a: Loaded, b: Loaded) -> bool:
    if a.resolved is None or b.resolved is None:
        return a.origin == b.origin
    return Path(a.resolved.path).resolve() == Path(b.resolved.path).resolve()


def load_preferences(name: PathLike, data_dir: PathLike | None = None) -> Loaded:
    _kind(str(name), ("preferences",))
    res = resolve(name, data_dir)
    return Loaded(res.spec.name if res.spec else Path(res.path).stem, read_preferences(res.path), res)


def all_prompts(suites: dict[str, Loaded]) -> list[EvalPrompt]:
    return [p for loaded in suites.values() for p in loaded.records]


__all__ = ["Loaded", "load_instructions", "load_suite", "load_suites", "load_preferences",
           "all_prompts", "Instruction", "EvalPrompt", "PreferencePair"]

"""Any data set through Hugging Face ``datasets``: a Hub id (``hf:ORG/NAME[#CONFIG][@REVISION][:SPLIT]``)
or a local Parquet / Arrow / CSV / JSON file, with a column mapping for schemas that are not Alpaca's.

Spec grammar, wherever a data set is named (CLI and run config)::

    hf:tatsu-lab/alpaca                       the Hub (or a local dataset folder: hf:/path/to/folder)
    hf:allenai/wildjailbreak#train@<rev>:train  config, pinned revision, split
    data/mix.parquet                          local Parquet / Arrow / CSV (JSON stays on safemix's reader)
    ...?instruction=prompt&output=response    a column mapping (after any of the above)
    ...?messages=conversations                chat lists: the first user turn and the assistant's answer

Without a mapping, Alpaca's columns are used, else ``prompt``/``response``, else a ``messages`` list.
The manifest records the spec, the revision and the data set's fingerprint (its content hash for
local files). Errors name the data set and the record, as for every other input.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..errors import DataError, MissingExtraError, SafemixError
from ..parse import check_text
from .records import EvalPrompt, Instruction

LOCAL = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv"}
_SPEC = re.compile(r"^hf:(?P<path>[^#@:?]+(?::(?=/)[^#@?]*)?)(?:#(?P<config>[^@:?]+))?(?:@(?P<rev>[^:?]+))?"
                   r"(?::(?P<split>[^?]+))?$")


def parse_hub_spec(name: str) -> dict | None:
    """An ``hf:`` spec's parts (path, config, rev, split, and the ``?`` mapping as query), None for any other name or
    a malformed one."""
    spec, _, query = str(name).partition("?")
    m = _SPEC.match(spec) if spec.startswith("hf:") else None
    return {**m.groupdict(), "query": query} if m else None


def is_hf_spec(name: str) -> bool:
    text = str(name).split("?", 1)[0]
    return text.startswith("hf:") or Path(text).suffix.lower() in LOCAL or "?" in str(name)


def _mapping(query: str, where: str) -> dict[str, str]:
    out = {}
    for part in filter(None, query.split("&")):
        key, _, col = part.partition("=")
        if key not in ("instruction", "input", "output", "prompt", "messages") or not col:
            raise SafemixError(f"{where}: bad column mapping '{part}' (use instruction=, input=, output=, prompt= "
                               "or messages=COLUMN)")
        out[key] = col
    return out


def load_rows(name: str) -> tuple[list[dict], dict, dict[str, str]]:
    """(rows, provenance, column mapping) of a ``datasets`` spec."""
    try:
        import datasets
    except ImportError:
        raise MissingExtraError("datasets", "hf") from None
    spec, _, query = str(name).partition("?")
    mapping = _mapping(query, name)
    if spec.startswith("hf:"):
        m = parse_hub_spec(name)
        if not m:
            raise SafemixError(f"'{name}': expected hf:ORG/NAME[#CONFIG][@REVISION][:SPLIT]")
        path, config, rev, split = m["path"], m["config"], m["rev"], m["split"] or "train"
        try:
            ds = datasets.load_dataset(path, name=config, revision=rev, split=split)
        except Exception as exc:  # datasets raises many kinds: one line naming the data set
            raise SafemixError(f"'{name}': cannot load with datasets ({str(exc).splitlines()[0][:200]})") from None
        prov = {"name": path, "source": f"hf:{path}", "config": config, "split": split, "revision": rev,
                "sha256": ds._fingerprint, "records": len(ds)}
    else:
        file = Path(spec).expanduser()
        if not file.is_file():
            raise SafemixError(f"'{spec}': no such file")
        kind = LOCAL.get(file.suffix.lower(), "json")
        try:
            ds = datasets.load_dataset(kind, data_files=str(file), split="train")
        except Exception as exc:
            raise DataError(file, f"cannot read as {kind} ({str(exc).splitlines()[0][:200]})") from None
        prov = {"name": file.stem, "source": "user file", "file": file.name, "revision": None,
                "sha256": hashlib.sha256(file.read_bytes()).hexdigest(), "records": len(ds)}
    return list(ds), prov, mapping


def _text(row: dict, col: str, where, i: int, required: bool = True) -> str:
    value = row.get(col)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise DataError(where, f"column '{col}' is {'missing' if value is None else 'empty or not text'}", i)
    return check_text(value, f"column '{col}'", where, i)


def _mapped_columns(mapping: dict[str, str], rows: list[dict], where) -> None:
    """Every column a ``?key=COL`` mapping names exists (a typo would otherwise be read as empty)."""
    cols = set(rows[0])
    for key, col in mapping.items():
        if col not in cols:
            raise DataError(where, f"?{key}={col}: no column '{col}' (found: {sorted(cols)})")


def _chat(row: dict, col: str, where, i: int) -> tuple[str, str]:
    turns = row.get(col)
    if not isinstance(turns, list):
        raise DataError(where, f"column '{col}' is not a list of chat messages", i)
    for j, t in enumerate(turns):
        if isinstance(t, dict) and t.get("role") == "user":
            nxt = turns[j + 1] if j + 1 < len(turns) else None
            if isinstance(nxt, dict) and nxt.get("role") == "assistant" and isinstance(nxt.get("content"), str):
                return _text(t, "content", where, i), nxt["content"]
            break
    raise DataError(where, f"column '{col}' has no user turn followed by an assistant answer", i)


def to_instructions(rows: list[dict], mapping: dict[str, str], source: str, where) -> list[Instruction]:
    if not rows:
        raise DataError(where, "no records (empty set)")
    _mapped_columns(mapping, rows, where)
    cols = set(rows[0])
    if "messages" not in mapping and not {"instruction", "output"} & set(mapping):
        if {"instruction", "output"} <= cols:
            mapping = {"instruction": "instruction", "input": "input", "output": "output"}
        elif {"prompt", "response"} <= cols:
            mapping = {"instruction": "prompt", "output": "response"}
        elif "messages" in cols:
            mapping = {"messages": "messages"}
        else:
            raise DataError(where, f"no instruction/output, prompt/response or messages columns (found: {sorted(cols)}); "
                                   "map them with ?instruction=COL&output=COL or ?messages=COL")
    out = []
    for i, row in enumerate(rows):
        if "messages" in mapping:
            instruction, output = _chat(row, mapping["messages"], where, i)
            inp = ""
        else:
            instruction = _text(row, mapping.get("instruction", mapping.get("prompt", "instruction")), where, i)
            output = _text(row, mapping.get("output", "output"), where, i)
            inp = _text(row, mapping["input"], where, i, required=False) if "input" in mapping else ""
        out.append(Instruction(instruction, inp, output, source, f"{source}:{i}"))
    return out


def to_prompts(rows: list[dict], mapping: dict[str, str], suite: str, where) -> list[EvalPrompt]:
    if not rows:
        raise DataError(where, "no records (empty set)")
    _mapped_columns(mapping, rows, where)
    col = mapping.get("prompt") or mapping.get("instruction") or next(
        (c for c in ("prompt", "instruction", "question") if c in rows[0]), None)
    if col is None:
        raise DataError(where, f"no prompt column (found: {sorted(rows[0])}); map it with ?prompt=COL")
    inp = mapping.get("input")
    return [EvalPrompt(_text(r, col, where, i), suite, f"{suite}:{i}", input=_text(r, inp, where, i, required=False)
                       if inp else "") for i, r in enumerate(rows)]

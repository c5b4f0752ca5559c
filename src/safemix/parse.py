"""Low-level parsing with validation: every error names the file and the record index.

Files are decoded with ``surrogateescape`` so that bad UTF-8 is reported at the record that holds
it (via :func:`field`) rather than as a bare byte offset.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any, Iterator

from .errors import DataError

_BAD_TEXT = re.compile("[\ud800-\udfff]")  # bad UTF-8 bytes (surrogateescape) or a JSON-escaped lone surrogate
MAX_TEXT = 200_000  # characters in one field: far past any context safemix runs, and bounds memory up front


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(path, f"not a valid gzip file ({exc})") from None
    return raw.decode("utf-8", "surrogateescape").removeprefix("\ufeff")


def load_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (record index, object) for each non-blank line."""
    index = 0
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield index, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON on line {lineno}: {exc.msg}", index) from None
        index += 1


def iter_csv(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)} (found: {reader.fieldnames})")
    try:
        for index, row in enumerate(reader):
            if None in row or any(v is None for v in row.values()):
                raise DataError(path, "wrong number of columns", index)
            yield index, row
    except csv.Error as exc:
        raise DataError(path, f"malformed CSV: {exc}") from None


def field(obj: Any, key: str, path: Path, index: int, *, required: bool = True,
          allow_empty: bool = False, default: str = "") -> str:
    """A validated string field of a record."""
    if not isinstance(obj, dict):
        raise DataError(path, f"expected an object, got {type(obj).__name__}", index)
    if key not in obj or obj[key] is None:
        if required:
            raise DataError(path, f"missing field '{key}'", index)
        return default
    value = obj[key]
    if not isinstance(value, str):
        raise DataError(path, f"field '{key}' must be a string, got {type(value).__name__}", index)
    check_text(value, f"field '{key}'", path, index)
    if not allow_empty and not value.strip():
        raise DataError(path, f"field '{key}' is empty", index)
    return value


def check_text(value: str, what: str, path, index: int | None) -> str:
    """A text value that can be encoded and held: valid UTF-8 (no lone surrogate), at most MAX_TEXT characters."""
    if _BAD_TEXT.search(value):
        raise DataError(path, f"{what} is not valid UTF-8 (a stray byte or an unpaired surrogate)", index)
    if len(value) > MAX_TEXT:
        raise DataError(path, f"{what} has {len(value):,} characters (at most {MAX_TEXT:,})", index)
    return value


def unique_ids(records: list, path) -> list:
    """``records`` (each with an ``id``), refusing a repeated id: answers and verdicts are matched by it."""
    seen: dict[str, int] = {}
    for i, r in enumerate(records):
        if r.id in seen:
            raise DataError(path, f"id '{r.id}' repeats record {seen[r.id]}", i)
        seen[r.id] = i
    return records


def nonempty(records: list, path: Path) -> list:
    if not records:
        raise DataError(path, "no records (empty set)")
    return records

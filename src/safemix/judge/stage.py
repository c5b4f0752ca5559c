"""``judge()``: score a generation folder with one or more judges, cached and resumable.

For each ``SUITE.jsonl`` of the generation folder and each judge, writes ``SUITE.JUDGE.jsonl`` with
one record per generation record: ``id``, ``gen_key``, ``judge``, ``judge_version``, ``kind``,
``label``, ``score``, ``error``, ``failed``. Records are keyed by (judge id + version, generation
key), so a re-run scores only what is new; files are rewritten atomically per batch (the same store
as generation).

Unscorable answers: an empty output is not shown to a refusal or harm judge (``label`` None,
``error`` "empty output"); a verdict the judge could not reach keeps its reason (and "cut at the token limit" when
the output was). Failed verdicts (the judge could not be asked, e.g. an API error) are written, then
the stage raises :class:`JudgeFailures` with a one-line summary; a re-run retries exactly those.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..artifacts import GenerationRecord, VerdictRecord, generation_file, read_records, verdict_file
from ..errors import DataError, SafemixError
from ..markers import clear_done, finished_generations, mark_done
from ..store import SuiteStore
from .base import Judge, Verdict, get_judges
from .learned import cache_key

RECORD_VERSION = "2"  # verdict record fields (kind, error, failed); keys the store


class JudgeFailures(SafemixError):
    """Some verdicts could not be had; they are recorded and retried on the next run."""


def read_generations(path: Path) -> list[GenerationRecord]:
    out = read_records(GenerationRecord, path)
    if not out:
        raise DataError(path, "no records (empty set)")
    return out


def judge(judges: list[str | Judge], generations: str | Path, out: str | Path, batch_size: int = 256,
          judge_kwargs: dict | None = None, suites: list[str] | None = None,
          subsets: dict | None = None) -> dict[tuple[str, str], Path]:
    """Score every generation file (or only those of ``suites``) with every judge; returns
    {(suite, judge id): path}. ``subsets``: {judge id: f(suite, ids) -> ids it sees} for a judge on a
    budget (its file then holds only those answers)."""
    if not Path(generations).is_dir():
        raise SafemixError(f"{generations}: not a folder of generations")
    # the suites and their counts as the generation's marker lists them, every file checked before writing
    data = finished_generations(Path(generations))
    if suites is not None:  # names match case-insensitively (q-harm -> Q-Harm.jsonl)
        wanted = {s.lower() for s in suites}
        missing = sorted(wanted - {s.lower() for s in data})
        if missing:
            raise SafemixError(f"{generations}: no generations for suite(s) {', '.join(missing)}")
        data = {s: recs for s, recs in data.items() if s.lower() in wanted}
    for suite, recs in data.items():
        if not recs:
            raise DataError(generation_file(Path(generations), suite), "no records (empty set)")
    named = [j for j in judges if not isinstance(j, Judge)]
    made = iter(get_judges(named, **(judge_kwargs or {})) if named else [])
    objs = [j if isinstance(j, Judge) else next(made) for j in judges]
    if not objs:
        raise SafemixError("no judges given")
    out = Path(out)
    clear_done(out)
    paths, failures, counts, unscored = {}, Counter(), {}, []
    for j in objs:
        scored, answered, reasons = 0, 0, Counter()
        for suite, recs in data.items():
            if subsets and j.id in subsets:
                seen = subsets[j.id](suite, [r.id for r in recs])
                recs = [r for r in recs if r.id in seen]
            keys = [cache_key(RECORD_VERSION, j.key, r.key) for r in recs]
            store = SuiteStore(verdict_file(out, suite, j.id))
            todo = [i for i, k in enumerate(keys) if not store.has(k) or store.records[k].get("failed")]
            for start in range(0, len(todo), batch_size):
                idx = todo[start:start + batch_size]
                store.add([_record(j, suite, recs[i], keys[i], v) for i, v in zip(idx, _verdicts(j, [recs[i] for i in idx]))])
            written = store.finalise(keys)
            for rec in written:
                if rec.get("failed"):
                    failures[(j.id, suite, rec["error"])] += 1
                answered += 1
                scored += rec.get("label") is not None or rec.get("score") is not None
                if rec.get("label") is None and not rec.get("failed"):
                    reasons[rec.get("error") or "no verdict"] += 1
            paths[(suite, j.id)] = store.path
            counts.setdefault(suite, {})[j.id] = len(written)
        if answered and not scored and not any(k[0] == j.id for k in failures):
            why = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(2))
            unscored.append(f"judge '{j.id}' could score none of its {answered} answers ({why})")
    if failures:
        total = sum(failures.values())
        detail = "; ".join(f"{jid} on {suite}: {n} x {err}" for (jid, suite, err), n in sorted(failures.items())[:5])
        raise JudgeFailures(f"{total} verdict(s) failed ({detail}); they are recorded in {out} and the next run retries them")
    if unscored:  # a wrong endpoint or model, a changed API: empty rates would pass for results
        raise SafemixError(f"{'; '.join(unscored)}: check its endpoint, model and options; nothing is marked done in {out}")
    mark_done(out, "judge", judges=sorted({j.key for j in objs}), suites=sorted(data), files=counts)
    return paths


def _verdicts(j: Judge, recs: list[GenerationRecord]) -> list[Verdict]:
    """The judge's verdicts. An empty output is unscorable for refusal and harm judges (it neither
    refuses nor complies) and is not shown to them; a quality judge scores it (a bad answer)."""
    asked = [i for i, r in enumerate(recs) if r.output.strip() or j.kind == "quality"]
    got = j.judge([(recs[i].prompt, recs[i].output) for i in asked]) if asked else []
    if len(got) != len(asked):
        raise SafemixError(f"judge '{j.id}' returned {len(got)} verdicts for {len(asked)} answers")
    out = [Verdict(None, error="empty output")] * len(recs)
    for i, v in zip(asked, got):
        if v.label is None and not v.failed and recs[i].finish_reason == "length":
            v = Verdict(None, v.score, f"cut at the token limit; {v.error or 'no verdict'}")
        out[i] = v
    return out


def _record(j: Judge, suite: str, gen: GenerationRecord, key: str, v: Verdict) -> dict:
    return VerdictRecord(id=gen.id, suite=suite, gen_key=gen.key, judge=j.id, judge_version=j.version, kind=j.kind,
                         label=v.label, score=v.score, error=v.error if v.label is None else None, failed=v.failed,
                         details=v.details, confidence=v.confidence, uncertain=v.uncertain and v.label is not None,
                         key=key).dump()

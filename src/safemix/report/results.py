"""Collect a run's judged generations into tidy result rows (one per suite x k x seed x judge x metric)."""

from __future__ import annotations

import csv
import io

from ..artifacts import Point, verdict_file  # noqa: F401  (Point re-exported)
from ..data.registry import attacked_suite, is_harmful, report_group, split_suite
from ..errors import DataError
from ..fileio import csv_cell
from ..judge.base import KINDS, metrics_of
from ..markers import finished_generations, finished_verdicts
from ..stats import bootstrap_ci
from .headline import ALL_HARMFUL, POOLED  # noqa: F401  (re-exported)
from .health import HEALTH_METRICS, health
from .stats import pooled_ci, rate_metrics, wilson

COLUMNS = ("suite", "k", "seed", "judge", "metric", "n", "value", "ci_low", "ci_high")


def _group(suite: str, rec: dict) -> str:
    return report_group(suite, rec.get("label"))


def result_row(suite: str, k: int, seed, judge: str, metric: str, values: dict[str, float]) -> dict:
    """One seed's row of the results document from per-answer values (by prompt id): the mean, with Wilson's
    interval for a declared rate and the percentile bootstrap's otherwise (also what a plug-in stage's
    ``result_rows`` returns)."""
    vals = list(values.values())
    lo, hi = wilson(sum(vals), len(vals)) if metric in rate_metrics() else bootstrap_ci(vals, seed=0)
    return {"suite": suite, "k": k, "seed": seed, "judge": judge, "metric": metric, "n": len(vals),
            "value": round(sum(vals) / len(vals), 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)}


# outcomes[(group, judge, metric)][k][seed] = {prompt id: value}: the per-answer values behind the rows
Outcomes = dict[tuple[str, str, str], dict[int, dict[int, dict[str, float]]]]


def collect(points: list[Point], baseline_k: int = 0) -> tuple[list[dict], dict, Outcomes]:
    """(rows, answers, outcomes). answers[(group, id)] holds the prompt, and per k the first seed's
    answer (``outputs``) and every judge's label (``verdicts``), for the examples section; with
    several seeds at a k, each rate also gets a pooled row (seed ``pooled``)."""
    from .helpfulness import capability_rows, quality_rows

    rows, answers, outcomes = capability_rows(points) + quality_rows(points, baseline_k), {}, {}
    first_seed = min((pt.seed for pt in points), default=None)

    def add(group, pt, judge, metric, values: dict[str, float]):
        rows.append(result_row(group, pt.k, pt.seed, judge, metric, values))
        outcomes.setdefault((group, judge, metric), {}).setdefault(pt.k, {})[pt.seed] = values

    for pt in points:
        # what the steps' markers list, each file checked against its count (a missing or short file is an error)
        generated, judged = finished_generations(pt.generations), finished_verdicts(pt.judgements)
        for suite in sorted(generated):
            gens = {r.key: r.dump() for r in generated[suite]}
            groups: dict[str, list[dict]] = {}
            for r in gens.values():
                groups.setdefault(_group(suite, r), []).append(r)
                if pt.seed == first_seed:
                    a = answers.setdefault((_group(suite, r), r["id"]), {"prompt": r["prompt"], "outputs": {}, "verdicts": {}})
                    a["outputs"][pt.k] = r["output"]
            for g, recs in groups.items():
                add(g, pt, "-", "output_tokens", {r["id"]: r["output_tokens"] for r in recs})
                add(g, pt, "-", "eos_rate", {r["id"]: float(r["finish_reason"] == "eos") for r in recs})
                flags = {r["id"]: health(r) for r in recs}
                for metric in HEALTH_METRICS:
                    add(g, pt, "-", metric, {pid: f[metric] for pid, f in flags.items()})
            for judge_id in sorted(j for s_, j in judged if s_ == suite):
                jfile = verdict_file(pt.judgements, suite, judge_id)
                verdicts = [v.dump() for v in judged[(suite, judge_id)]]
                by_group: dict[str, list[tuple[str, dict]]] = {}
                for i, v in enumerate(verdicts):
                    if v.get("kind") not in KINDS:
                        raise DataError(jfile, f"verdict without a known judge kind ({v.get('kind')!r}); "
                                               "re-run 'safemix judge' on this folder", i)
                    if v["gen_key"] not in gens:
                        raise DataError(jfile, "a verdict on an answer that is not in the generation file; "
                                               "re-run 'safemix judge' on this folder", i)
                    gen = gens[v["gen_key"]]
                    by_group.setdefault(_group(suite, gen), []).append((gen["id"], v))
                    if pt.seed == first_seed:
                        a = answers[(_group(suite, gen), gen["id"])]
                        a["verdicts"].setdefault(pt.k, {})[v["judge"]] = v["label"]
                for g, vs in by_group.items():
                    for metric, values in _metrics(g, vs[0][1]["kind"], vs).items():
                        add(g, pt, vs[0][1]["judge"], metric, values)
    rows += harmful_pool(outcomes)
    rows += pooled_rows(outcomes)
    rows += stage_rows(points)
    sort_rows(rows)
    return rows, answers, outcomes


def stage_rows(points: list[Point]) -> list[dict]:
    """The rows each plug-in stage makes from its finished step of each point (safemix/stage.py)."""
    from ..stage import STAGES

    out = []
    for pt in points:
        for name, path in sorted((pt.outputs or {}).items()):
            if name in STAGES:
                out += STAGES[name].result_rows(pt, path)
    return out


def sort_rows(rows: list[dict]) -> None:
    """results.csv's order: suite, judge, metric, k, then seeds (pooled last)."""
    rows.sort(key=lambda r: (r["suite"], r["judge"], r["metric"], r["k"], isinstance(r["seed"], str), str(r["seed"]).zfill(12)))


def harmful_pool(outcomes: Outcomes) -> list[dict]:
    """Harmful compliance over every answer to a harmful suite (group ``all-harmful``), per judge,
    k and seed: the single harm figure of the trade-off plot, the sweet spot and the paper table. Answers to
    attacked prompts pool per attack (``all-harmful@ATTACK``), keyed like the un-attacked ones, so they pair."""
    rows, pool = [], {}
    for (group, judge, metric), by_k in outcomes.items():
        if metric == "harmful_compliance" and is_harmful(group):
            base, attack = split_suite(group)
            target = attacked_suite(ALL_HARMFUL, attack) if attack else ALL_HARMFUL
            for k, by_seed in by_k.items():
                for seed, values in by_seed.items():
                    cell = pool.setdefault((target, judge, k, seed), {})
                    cell.update({f"{base}:{pid}": v for pid, v in values.items()})
    for (target, judge, k, seed), values in sorted(pool.items(), key=lambda x: tuple(map(str, x[0]))):
        rows.append(result_row(target, k, seed, judge, "harmful_compliance", values))
        outcomes.setdefault((target, judge, "harmful_compliance"), {}).setdefault(k, {})[seed] = values
    return rows


def pooled_rows(outcomes: Outcomes) -> list[dict]:
    """A row per (group, judge, metric, k) answered by several seeds: all seeds' answers pooled,
    with the two-way bootstrap interval (see stats.pooled_ci)."""
    out = []
    for (group, judge, metric), by_k in outcomes.items():
        for k, by_seed in by_k.items():
            if len(by_seed) > 1:
                mean, lo, hi, n = pooled_ci(by_seed, rate=metric in rate_metrics())
                out.append({"suite": group, "k": k, "seed": POOLED, "judge": judge, "metric": metric, "n": n,
                            "value": round(mean, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)})
    return out


def _metrics(group: str, kind: str, vs: list[tuple[str, dict]]) -> dict[str, dict[str, float]]:
    """A judge's declared metrics over the answers it could score, by prompt id; the unscorable ones are counted
    on their own (``unscorable``: share of all answers), never as harmless or as compliance. A judge that
    gives a confidence also gets ``uncertain`` (share of all answers below its threshold); its rates still use
    its best label for those answers, since dropping them would bias the rates."""
    scored = [(pid, v) for pid, v in vs if v["label"] is not None]
    out = {"unscorable": {pid: float(v["label"] is None) for pid, v in vs}}
    if any(v.get("confidence") is not None for _, v in vs):  # a judge that says how sure it is
        out["uncertain"] = {pid: float(bool(v.get("uncertain"))) for pid, v in vs}
    if not scored:
        return out
    for m in metrics_of(vs[0][1]["judge"], kind):
        if m.harmful_only and not is_harmful(group):
            continue
        values = {pid: x for pid, x in ((pid, m.value(v)) for pid, v in scored) if x is not None}
        if values:
            out[m.name] = values
    return out


def to_csv(rows: list[dict], columns: tuple[str, ...] = COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()

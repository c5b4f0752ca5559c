"""A finished sweep's points as tracker runs (``safemix run`` calls this after the report;
``safemix track RUN_DIR`` does it for any run folder).

Each judged (k, seed) point becomes one tracker run named ``<config> k=K seed=S``, tagged with k,
seed, the model and every step key, so the tracker's run table is the sweep table. It holds the
config (flattened, with the point's own k and seed) as params; the training curve (loss, learning
rate, tokens/s, validation loss) replayed from the point's ``train_log.jsonl`` at its steps; every
``results.json`` row of the point as a metric with its interval (``..._ci_low``/``..._ci_high``) and
the headline ones again under ``headline/``; the wall time of each step; and the report, the
point's training log and the run config as artifacts.

Logged from the artifacts, not from inside the stages, so it is the same on every executor and
re-running it is safe: ``RUN_DIR/tracking.json`` records, per tracker and point, the run id and
whether its logging finished. A finished point is not logged again unless its steps changed (its
keys differ); one cut off is replaced (W&B: resumed under the same id).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..artifacts import STEP_TIMING, TRAIN_LOG, StepTime, read_record
from ..errors import SafemixError
from ..fileio import atomic_write_json
from ..secrets import redact_doc
from .base import Tracker, failure_line, flatten, metric_name, open_trackers, redact  # noqa: F401
from .curve import train_curve

STATE = "tracking.json"


def point_params(cfg, k: int, seed: int) -> dict[str, str]:
    doc = cfg.model_dump(exclude={"tracking": True, "executor": True, "data": {"data_dir"}})
    doc["data"]["k"], doc["seeds"] = k, seed
    return flatten(redact_doc(doc))


def headline(rows: list[dict]) -> dict[str, dict]:
    """The report's headline numbers of one point: harmful compliance and safe-prompt refusals by the
    headline judge, capability accuracy per task, answer quality per suite."""
    from ..report.headline import EXAGGERATED_SAFETY, HARM, headline_judge

    ref = headline_judge(rows)
    out = {}
    for r in rows:
        name = None
        if r["judge"] == ref and (r["suite"], r["metric"]) == HARM[:2]:
            name = "harmful_compliance"
        elif r["judge"] == ref and (r["suite"], r["metric"]) == EXAGGERATED_SAFETY[:2]:
            name = "safe_prompt_refusals"
        elif r["judge"] == "lm-eval" and r["metric"] == "acc":
            name = metric_name("capability", r["suite"])
        elif r["metric"] == "win_rate":
            name = metric_name("quality_win_rate", r["suite"])
        if name:
            out[name] = r
    return out


def _with_ci(name: str, row: dict) -> dict[str, float]:
    out = {name: float(row["value"])}
    if row["ci_low"] not in ("", None):
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(row["ci_low"]), float(row["ci_high"])
    return out


def track_run(cfg, run_dir: str | Path, trackers: list[Tracker] | None = None) -> list[str]:
    """Log every judged point of ``run_dir`` not yet logged to each tracker; returns one line per
    tracker saying where the runs went."""
    from ..artifacts import read_steps
    from ..lock import StepLock
    from ..report.document import read_rows

    run_dir = Path(run_dir)
    trackers = open_trackers(cfg.tracking, run_dir) if trackers is None else trackers
    if not trackers:
        return []
    listed = read_steps(run_dir)
    steps = [s for s in listed.steps if s.arm == "sft"]  # the SFT sweep's points (results.json holds these)
    points = sorted({(s.k, s.seed) for s in steps if s.stage == "judge" and listed.done(run_dir, s)})
    rows = read_rows(run_dir) if points else []
    lines = []
    with StepLock(run_dir / "tracking") as got:
        if not got:
            return [f"tracking: another process is logging {run_dir} now; left to it"]
        state_path = run_dir / STATE
        try:
            state = json.loads(state_path.read_text()) if state_path.is_file() else {}
        except ValueError:
            state = {}  # a torn state file: log everything again (finished points are replaced)
        for t in trackers:
            mine = state.setdefault(t.name, {})
            logged = 0
            for k, seed in points:
                own = [s for s in steps if (s.k, s.seed) == (k, seed)]
                keys = {f"key.{s.stage}": s.key for s in own}
                digest = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:12]
                name = f"{cfg.name} k={k} seed={seed}"
                was = mine.get(name, {})
                if was.get("done") and was.get("keys") == digest:
                    continue
                tags = {"safemix.config": cfg.name, "model": cfg.model, "k": str(k), "seed": str(seed), **keys}
                resume = was.get("run_id") if not was.get("done") else None
                try:
                    run_id = t.start(name, tags, point_params(cfg, k, seed), resume=resume)
                    mine[name] = {"run_id": run_id, "keys": digest, "done": False}
                    atomic_write_json(state_path, state)
                    _log_point(t, run_dir, own, [r for r in rows if r["k"] == k and r["seed"] == seed])
                    t.finish()
                except Exception as exc:  # each tracker library raises its own kinds (network, auth, limits)
                    raise SafemixError(failure_line(t, name, exc)) from None
                mine[name]["done"] = True
                atomic_write_json(state_path, state)
                logged += 1
            lines.append(f"tracking: {logged} point(s) logged to {t.where()}"
                         + (f" ({len(points) - logged} already there)" if len(points) > logged else ""))
    return lines


def _log_point(t: Tracker, run_dir: Path, steps, rows: list[dict]) -> None:
    by_stage = {s.stage: s for s in steps}
    for step, values in train_curve(run_dir / by_stage["train"].path / TRAIN_LOG):
        t.log_metrics(values, step)
    final: dict[str, float] = {}
    for r in rows:
        final.update(_with_ci(metric_name("results", r["suite"], r["metric"], r["judge"].strip("-")), r))
    for name, r in headline(rows).items():
        final.update(_with_ci(metric_name("headline", name), r))
    for s in steps:
        if (run_dir / s.path / STEP_TIMING).is_file():
            try:
                final[metric_name("time", f"{s.stage}_s")] = read_record(StepTime, run_dir / s.path / STEP_TIMING).seconds
            except SafemixError:
                pass
    t.log_metrics(final)
    t.log_artifacts(run_dir / "report", "report")
    train = run_dir / by_stage["train"].path
    if (train / TRAIN_LOG).is_file():
        _one_file(t, train / TRAIN_LOG, "train")
    _one_file(t, run_dir / "config.yaml", "config")


def _one_file(t: Tracker, path: Path, name: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # trackers log folders; one file goes in one of its own
        (Path(tmp) / path.name).write_bytes(path.read_bytes())
        t.log_artifacts(Path(tmp), name)

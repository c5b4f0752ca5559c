"""``run()``: the whole sweep as one resumable command.

Every step writes into its own keyed folder and is skipped when its marker exists; the stages
themselves are atomic or resumable (mixtures and markers are written atomically, training resumes
from its checkpoint, generation and judging from their per-batch files). Killed at any moment and
started again, a run finishes with the same results as an uninterrupted one.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..artifacts import STEP_TIMING, STEPS, RunRecord, RunSteps, StepEntry, StepTime, read_record, run_record
from ..config import RunConfig, load_run_config
from ..errors import SafemixError
from ..fileio import atomic_write_json, atomic_write_text, inside
from ..lock import StepLock, holder
from ..report import ReportOptions, build_report
from ..secrets import redact
from .isolate import isolated, run_in_child
from .pins import changes, load_run_folder, pin_config, recorded
from .pins import record as record_pins
from .plan import Step, execute, plan
from .stages import SFT_DPO, STAGES, data_dir
from .timings import StepTimes, peak_rss_mb

console = Console(stderr=True)


def write_steps(cfg: RunConfig, run_dir: Path, steps: list[Step] | None = None) -> RunSteps:
    """``RUN_DIR/steps.json``: every step of the plan and its folder, for the consumers that read a run folder
    (report, model card, tracking, labels) without planning again."""
    run_dir = Path(run_dir)
    steps = plan(cfg, run_dir) if steps is None else steps
    doc = RunSteps(name=cfg.name, model=cfg.model, steps=[
        StepEntry(stage=s.stage, k=s.k, seed=s.seed, key=s.key, path=s.path.relative_to(run_dir).as_posix(),
                  parent=s.parent.path.relative_to(run_dir).as_posix() if s.parent else None,
                  marker=s.marker, arm=s.arm) for s in steps])
    atomic_write_json(run_dir / STEPS, doc.dump())
    return doc


def ensure_steps(run_dir: Path) -> None:
    """Write ``steps.json`` into a run folder made before safemix kept one (from its config.yaml)."""
    if not (Path(run_dir) / STEPS).is_file():
        write_steps(load_run_folder(run_dir), Path(run_dir))


def report(cfg: RunConfig, run_dir: Path) -> dict[str, Path]:
    steps = plan(cfg, run_dir)
    done = [s for s in steps if s.done]
    listed = write_steps(cfg, run_dir, steps)
    points = listed.judged_points(run_dir)
    methods = {SFT_DPO: listed.judged_points(run_dir, SFT_DPO)} if cfg.dpo is not None else None
    baseline = cfg.quality.baseline_k if cfg.quality else 0
    setup = setup_line(cfg)
    budget = (cfg.budget.judge, cfg.budget.cheap) if cfg.budget else None
    options = ReportOptions(cfg.report.harm_target, cfg.report.safe_refusal_tolerance, cfg.data.n_general, setup, budget,
                            stage_times_table(done), run_dir=run_dir, methods=methods, run_info=run_info(cfg, run_dir))
    return build_report(points, inside(run_dir, run_dir / "report"), title=f"safemix report: {cfg.name} ({cfg.model})",
                        baseline_k=baseline, options=options)


def run_info(cfg: RunConfig, run_dir: Path) -> dict:
    """results.json's run section: what made the results."""
    from ..fileio import sha256_text
    from .pins import recorded

    return {"name": cfg.name, "model": cfg.model, "config_sha256": sha256_text(cfg.model_dump_json()),
            "revisions": {p.key: p.pinned for p in recorded(run_dir)}}


def setup_line(cfg: RunConfig) -> str:
    """The study's setup in one line of the report: model, data, training, and the opt-in bf16 steps."""
    t = cfg.train
    line = (f"{cfg.model} + {t.method}, {cfg.data.n_general} {cfg.data.general} examples + k {cfg.data.safety} "
            f"demonstrations, {t.epochs:g} epoch(s), lr {t.learning_rate:g}, {len(cfg.seeds)} seed(s)")
    bf16 = [stage for stage, v in (("training", t.bf16), ("generation", cfg.generate.bf16)) if v == "true"]
    return line + (f", {' and '.join(bf16)} in bf16 (opt-in; results not identical to fp32's)" if bf16 else "")


def stage_times(steps: list[Step]) -> dict[str, list[StepTime]]:
    """The recorded cost of each finished step, by stage (steps run before timings were kept have none)."""
    out: dict[str, list[StepTime]] = {}
    for s in steps:
        path = s.path / STEP_TIMING
        if s.done and path.is_file():
            try:
                out.setdefault(s.stage, []).append(read_record(StepTime, path))
            except SafemixError:
                continue  # a timing is a nicety: an unreadable one is left out, never fatal
    return out


def stage_times_table(steps: list[Step]):
    """Where the time goes: per stage, the steps timed, their total and mean wall time, the peak memory."""
    from ..report.render import Table

    times = stage_times(steps)
    if not times:
        return None
    order = [s for s in STAGES if s in times]
    rows = [[st, str(len(times[st])), f"{sum(t.seconds for t in times[st]):,.1f}",
             f"{sum(t.seconds for t in times[st]) / len(times[st]):,.1f}", f"{max(t.peak_rss_mb for t in times[st]):,.0f}"]
            for st in order]
    total = sum(t.seconds for ts in times.values() for t in ts)
    return Table("Where the time goes", f"Wall time per stage as recorded by each step ({total:,.0f} s in all); peak "
                 "memory is the running process's peak when the step ended.",
                 ["stage", "steps timed", "total s", "mean s", "peak MB"], rows)


def describe(steps: list[Step], cfg: RunConfig | None = None) -> str:
    """One line per step: done, running (and by whom) or todo, with partial progress where known."""
    lines = [f"{'stage':<10} {'point':<20} {'status':<8} folder"]
    asked = functools.cache(lambda: _prompts_asked(cfg) if cfg else None)  # suites are read once, if needed
    for s in steps:
        who = None if s.done else holder(s.path)
        state = "done" if s.done else "running" if who else "todo"
        job = f"{who['job']}, " if who and who.get("job") else ""
        where = f"  ({job}pid {who.get('pid')} on {who.get('host')})" if who else ""
        part = "" if s.done else _partial(s, asked)
        lines.append(f"{s.stage:<10} {s.point:<20} {state:<8} {s.path}{where}{part}")
    return "\n".join(lines)


def _partial(step: Step, asked) -> str:
    """How far an unfinished step got: training steps checkpointed, answers written / asked."""
    if step.stage in ("train", "dpo"):
        state = step.path.with_name(step.path.name + ".partial") / "checkpoint" / "state.json"
        try:
            return f"  [step {json.loads(state.read_text())['step']} checkpointed]"
        except (OSError, ValueError, KeyError, TypeError):
            return ""
    if step.stage == "generate" and step.path.is_dir():
        written = sum(sum(1 for line in f.open(encoding="utf-8") if line.strip()) for f in step.path.glob("*.jsonl"))
        if not written:
            return ""
        total = asked()
        return f"  [{written}/{total} answers]" if total else f"  [{written} answers]"
    return ""


def _prompts_asked(cfg: RunConfig) -> int | None:
    from ..data.load import load_suites
    from ..generate.stage import subsample

    try:
        suites = load_suites(cfg.generate.suites, data_dir(cfg))
    except SafemixError:
        return None
    return sum(len(subsample(s.records, cfg.generate.limit_per_suite, 0)) for s in suites.values())


def preflight(cfg: RunConfig, config: str | Path, run_dir: Path, pins: list | None = None) -> None:
    """Every check of ``--check`` before any work (run/check.py): on any FAIL the table goes to stderr and the
    run stops with one line naming the config and what failed."""
    from .check import failures_line, run_checks, table

    rows = run_checks(cfg, run_dir, pins)
    if not all(r.ok for r in rows):
        console.print(table(rows), highlight=False, markup=False, soft_wrap=True)
        raise SafemixError(f"{config}: {failures_line(rows)}")


def check(config: str | Path, run_dir: str | Path | None = None, *, data_dir: str | Path | None = None,
          executor: str | None = None) -> tuple[str, bool]:
    """``safemix run CONFIG --check``: (the table of every check, whether all passed); runs nothing."""
    from .check import run_checks, table

    cfg = load_with(config, data_dir, executor)
    run_dir = Path(run_dir or Path("runs") / cfg.name)
    pins, problem = [], None
    try:
        cfg, pins = pin_config(cfg)
    except SafemixError as exc:
        problem = str(exc)
    rows = run_checks(cfg, run_dir, pins, problem, probe=True)
    return table(rows), all(r.ok for r in rows)


def load_with(config: str | Path, data_dir=None, executor: str | None = None) -> RunConfig:
    """The run config with the command line's --data-dir and --executor merged in before validation."""
    return load_run_config(config, {"data": {"data_dir": str(data_dir) if data_dir else None},
                                    "executor": {"kind": executor}})


def run(config: str | Path, run_dir: str | Path | None = None, *, dry_run: bool = False, only: dict | None = None,
        progress: bool = True, data_dir: str | Path | None = None, executor: str | None = None,
        report_after: bool = True) -> Path:
    """Run every step not yet done, then write the report. ``data_dir`` overrides the config's
    data.data_dir (and $SAFEMIX_DATA_DIR); it is not part of any step key. ``executor`` overrides the
    config's ``executor.kind``: ``slurm`` or ``ray`` run each (k, seed) point as a job
    (:mod:`safemix.executors`). ``report_after=False``: a job's run of one point, no report."""
    cfg = load_with(config, data_dir, executor)
    run_dir = Path(run_dir or Path("runs") / cfg.name)
    # every Hub model and data set pinned to its commit (run/pins.py); a point job uses the driver's commits
    before = recorded(run_dir)
    try:
        cfg, pins = pin_config(cfg, run_dir, use_recorded=not report_after)
    except SafemixError as exc:
        raise SafemixError(f"{config}: {exc}") from None
    for line in changes(before, pins):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    try:
        steps = plan(cfg, run_dir, only)
    except SafemixError as exc:
        raise SafemixError(f"{config}: {exc}") from None
    if dry_run:
        print(describe(steps))
        return run_dir
    if any(not s.done for s in steps):
        preflight(cfg, config, run_dir, pins)
    run_dir.mkdir(parents=True, exist_ok=True)
    if report_after or not before:
        record_pins(run_dir, pins)
    write_steps(cfg, run_dir)
    if cfg.executor.kind != "local":
        return _run_on_cluster(cfg, config, run_dir, steps, pins)
    save_config(config, run_dir)
    todo = [s for s in steps if not s.done]
    started = time.time()
    times = StepTimes(_previous_steps(run_dir))
    plain = progress and not console.is_terminal  # a log: one line per step, and the stages' own lines
    # each step in its own process (run/isolate.py): its memory goes back to the device when it ends
    alone = isolated(cfg.executor.kind, cfg.executor.isolate)
    cfg_doc = cfg.model_dump(mode="json", exclude_unset=True) if alone else None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[eta]}"), console=console, disable=not progress or plain) as bar:
        task = bar.add_task("run", total=len(steps), completed=len(steps) - len(todo), eta="")
        held = []
        for j, step in enumerate(todo):
            i, eta = len(steps) - len(todo) + 1 + j, times.eta([s.stage for s in todo[j:]])
            bar.update(task, description=f"{step.stage:<8} {step.point}", eta=eta)
            if plain:
                console.print(f"[{datetime.now():%H:%M:%S}] step {i}/{len(steps)}: {step.stage} {step.point}"
                              + (f" (sweep {eta})" if eta else ""), highlight=False, markup=False, soft_wrap=True)
            if step.parent is not None and not step.parent.done:
                held.append(step)  # its input is still being made by another process
                continue
            t0 = time.time()
            with StepLock(step.path) as got:
                if not got:
                    held.append(step)
                elif not step.done:  # another process may have finished it meanwhile
                    peaks = run_in_child(cfg_doc, run_dir, step.path, progress) if alone else {}
                    if not alone:
                        execute(step, cfg, progress)
                    atomic_write_json(step.path / STEP_TIMING, times.record(step.stage, step.point, time.time() - t0, peaks))
            bar.advance(task)
    if not report_after:
        return run_dir
    paths = report(cfg, run_dir)
    _cards(cfg, run_dir)
    atomic_write_json(run_record(run_dir), RunRecord(
        config=cfg.name, steps=len(steps), ran=len(todo) - len(held), held_by_others=len(held),
        revisions={p.key: p.pinned for p in pins},
        peak_rss_mb=max([peak_rss_mb(), *(r["peak_rss_mb"] for r in times.records)]),
        seconds_this_call=round(time.time() - started, 1), step_times=times.records, isolated=alone).dump())
    _track(cfg, run_dir)
    if held:
        console.print(f"{len(held)} step(s) were running in another process and were left to it; run again when "
                      "it is done to complete the report")
    top = times.heaviest()
    if top:
        console.print(f"peak memory {top['peak_rss_mb']:,.0f} MB, reached by {top['stage']} {top['point']}",
                      highlight=False)
    console.print(f"report: {paths['html']}")
    return run_dir


def save_config(config: str | Path, run_dir: Path) -> bool:
    """The run folder's copy of the config, credentials removed (secrets.py); False when any were."""
    text = Path(config).read_text()
    atomic_write_text(run_dir / "config.yaml", redact(text))
    return redact(text) == text


def _run_on_cluster(cfg: RunConfig, config: str | Path, run_dir: Path, steps: list[Step], pins: list) -> Path:
    """Submit one job per (k, seed) point with unfinished steps, wait for all, write the report from
    whatever finished; a job that did not finish is a one-line error per point (run again to resume)."""
    from ..executors import PointJob, get_executor

    # a job reads the run folder's copy, unless credentials had to be removed from it
    cfg_path = str((run_dir / "config.yaml").resolve() if save_config(config, run_dir) else Path(config).resolve())
    dd = data_dir(cfg)
    waves = [[PointJob(cfg_path, str(run_dir.resolve()), k, seed, str(Path(dd).resolve()) if dd else None)
              for k, seed in wave] for wave in point_waves(steps, cfg.data.k)]
    started, done_before = time.time(), sum(s.done for s in steps)
    ex = get_executor(cfg.executor.kind, getattr(cfg.executor, cfg.executor.kind), run_dir, run_point)

    def record(outcomes, ran: int = 0) -> None:
        atomic_write_json(run_record(run_dir), RunRecord(
            config=cfg.name, steps=len(steps), ran=ran, seconds_this_call=round(time.time() - started, 1),
            revisions={p.key: p.pinned for p in pins},
            executor=cfg.executor.kind, jobs=[vars(o) for o in outcomes]).dump())

    outcomes = []
    for jobs in waves:
        console.print(f"submitting {len(jobs)} point(s) to {cfg.executor.kind}: {', '.join(j.point for j in jobs)}",
                      highlight=False, soft_wrap=True)
        outcomes += ex.run_points(jobs, f"safemix-{cfg.name}", on_submit=lambda o: record(outcomes + o))
    record(outcomes, ran=sum(s.done for s in steps) - done_before)  # ``done`` reads the markers now
    paths = report(cfg, run_dir)
    _cards(cfg, run_dir)
    console.print(f"report: {paths['html']}")
    _track(cfg, run_dir)
    failed = [o for o in outcomes if o.state != "COMPLETED"]
    if failed:
        detail = "; ".join(f"{o.point} ({cfg.executor.kind} job {o.job_id}): {o.reason}" for o in failed[:4])
        raise SafemixError(f"{len(failed)} of {len(outcomes)} point job(s) did not finish: {detail}; logs in "
                           f"{run_dir / 'jobs'}; run again to resume them")
    return run_dir


def point_waves(steps: list[Step], ks: list[int]) -> list[list[tuple[int, int]]]:
    """The (k, seed) points with unfinished steps, as job waves: first the points whose jobs make a step that
    another point's steps build on (the k=0 model the DPO arm starts from), then the rest, so that no job
    finds its input being made by another job. One wave where no point needs another's step. Within a wave the
    largest k comes first: its mixture is the largest, so its training the longest, and an engine with fewer
    workers than points (a local Ray) starts it first rather than leaving it to run alone at the end."""
    todo = sorted({(s.k, s.seed) for s in steps if not s.done and s.k in ks})  # a job runs a point of the sweep
    first: set[tuple[int, int]] = set()
    for s in steps:
        a = s.parent
        while a is not None and not s.done:
            if (a.k, a.seed) != (s.k, s.seed) and not a.done:
                # made by its own point's job; a k=0 that is not swept by the smallest point of its seed, whose
                # job plans it as its own DPO arm's start
                first.add((a.k, a.seed) if a.k in ks else min(p for p in todo if p[1] == a.seed))
            a = a.parent
    waves = [first, [p for p in todo if p not in first]]
    return [sorted(w, key=lambda p: (-p[0], p[1])) for w in waves if w]


def _cards(cfg: RunConfig, run_dir: Path) -> None:
    """A model card for each point of ``report.cards`` whose training is done (rewritten with the report)."""
    if not cfg.report.cards:
        return
    from ..report.card import build_card

    trained = {(s.k, s.seed) for s in plan(cfg, run_dir) if s.stage == "train" and s.done}
    for seed in cfg.seeds:
        for k in cfg.report.cards:
            if (k, seed) in trained:
                console.print(f"card: {build_card(run_dir, k, seed) / 'README.md'}", highlight=False, soft_wrap=True)


def _track(cfg: RunConfig, run_dir: Path) -> None:
    """Each judged point to the trackers of the config's ``tracking:`` section (after the report:
    a tracker that fails leaves the results in place and says how to retry)."""
    if not cfg.tracking.any():
        return
    from ..track.sweep import track_run

    try:
        for line in track_run(cfg, run_dir):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    except SafemixError as exc:
        raise SafemixError(f"{exc} (the report is written; 'safemix track {run_dir}' retries the tracking)") from None


def _previous_steps(run_dir: Path) -> list:
    """The step times an earlier call recorded (the ETA's basis until this call measures its own);
    none when there is no readable ``run.json``."""
    try:
        return read_record(RunRecord, run_record(run_dir)).dump()["step_times"]
    except SafemixError:
        return []


def status(run_dir: str | Path) -> str:
    run_dir = Path(run_dir)
    cfg = load_run_folder(run_dir)
    steps = plan(cfg, run_dir)
    done = sum(s.done for s in steps)
    rep = run_dir / "report" / "report.html"
    tail = f"report: {rep}" if rep.is_file() else "report: not written yet"
    extra = ""
    if run_record(run_dir).is_file():
        last = read_record(RunRecord, run_record(run_dir))
        memory = f", peak memory {last.peak_rss_mb} MB" if last.peak_rss_mb is not None else ""
        extra = (f"\nlast call ({last.executor}): ran {last.ran} step(s) in {last.seconds_this_call} s{memory}"
                 + "".join(f"\n  {t.stage:<10} {t.point:<20} {t.seconds:>8.1f} s  {t.peak_rss_mb:>8,.0f} MB peak so far"
                           for t in last.step_times)
                 + "".join(f"\n  {j.point:<16} {j.executor} job {j.job_id}: {j.state}"
                           + (f" -- {j.reason}" if j.reason else "") + (f" (log {j.log})" if j.log else "")
                           for j in last.jobs))
    table = stage_times_table(steps)
    where = ("\nwhere the time goes (recorded by each step):\n" + "\n".join(
        f"  {r[0]:<10} {r[1]:>3} step(s) {r[2]:>10} s  (mean {r[3]} s, peak {r[4]} MB)" for r in table.rows)) if table else ""
    return f"{describe(steps, cfg)}\n{done}/{len(steps)} steps done; {tail}{extra}{where}"


def run_point(job) -> str:
    """What an executor's job runs: one point's steps, the same ``safemix run --only k=K,seed=S`` as a local
    process (executors.PointJob); returns the point."""
    from ..models.cpu_memory import keep_freed_memory

    keep_freed_memory()  # as the command line does, in the job's own process
    run(job.config, job.run_dir, only={"k": job.k, "seed": job.seed}, data_dir=job.data_dir, executor="local",
        report_after=False)
    return job.point

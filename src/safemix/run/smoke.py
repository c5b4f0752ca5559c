"""``safemix run CONFIG --smoke``: every stage on the real model with tiny limits, then a projection of the full run.

The smoke run is its own sweep (``runs/<name>-smoke``): one seed, the smallest and the largest k, a few training
steps, one full generation batch (the prompts per suite cut so that all of them, attacked copies included, fill
``generate.batch_size`` once: the batch the full run uses, so its memory and time per batch are the full run's),
at most 50 items per capability task; each step in its own process, so each step's peak memory is its own. What
it finds out before hours are spent: a broken chat template, a tokenizer without a pad token, an out-of-memory at
the largest k or at a full generation batch, a judge that cannot reach its weights or is slower than expected.

The projection, per step of the full run, from the work each will do:

- **train**: the full mixture's tokens (epochs x (N + k) examples x the smoke's mean tokens per example, or
  ``max_steps`` x batch), at the smoke's measured training rate (its steps after the first), plus the smoke
  step's fixed cost (loading, setup, saving: its time less its steps' time);
- **generate**: the smoke's time per batch, times the full run's batches;
- **judge / quality**: the smoke's time per answer, times the full run's answers; **capability**: per item;
  **mixture, pairs, dpo**: the smoke's time, scaled by k where the work grows with k;
- **memory**: the smoke step's measured peak (the same micro-batch, cutoff and generation batch as the full run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from ..config import RunConfig
from ..errors import SafemixError
from ..fileio import atomic_write_json, atomic_write_text

SMOKE_STEPS = 4  # optimizer steps of each smoke training
CAPABILITY_ITEMS = 50


def prompts_asked(cfg: RunConfig, limit) -> int:
    """How many answers one point's generation makes (attacked copies included), as generate() chooses them."""
    from ..data.load import load_suites
    from ..data.registry import is_harmful, report_group
    from ..generate.stage import attack_targets, subsample
    from .stages import data_dir

    loaded = load_suites(cfg.generate.suites, data_dir(cfg))
    chosen = {n: subsample(s.records, limit, 0) for n, s in loaded.items()}
    n = sum(map(len, chosen.values()))
    if cfg.generate.attacks:
        targets = attack_targets(list(loaded), cfg.generate.attack_suites)
        harmful = sum(1 for name in targets for p in chosen[name] if is_harmful(report_group(p.suite, p.label)))
        n += harmful * len(cfg.generate.attacks)
    return n


def smoke_limit(cfg: RunConfig) -> int:
    """The largest prompts-per-suite limit whose answers fit one generation batch (at least 1)."""
    lo, hi = 1, max(1, cfg.generate.batch_size)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if prompts_asked(cfg, mid) <= cfg.generate.batch_size:
            lo = mid
        else:
            hi = mid - 1
    return lo


def smoke_config(cfg: RunConfig) -> RunConfig:
    """The smoke sweep of a (pinned) run config."""
    c = cfg.model_copy(deep=True)
    c.name = f"{cfg.name}-smoke"
    c.seeds = cfg.seeds[:1]
    c.data = c.data.model_copy(update={"k": sorted({min(cfg.data.k), max(cfg.data.k)})})
    c.train = c.train.model_copy(update={"max_steps": min(cfg.train.max_steps or SMOKE_STEPS, SMOKE_STEPS),
                                         "val_size": 0})
    c.generate = c.generate.model_copy(update={"limit_per_suite": smoke_limit(cfg)})
    if c.capability is not None:
        c.capability = c.capability.model_copy(update={"limit": min(cfg.capability.limit or CAPABILITY_ITEMS,
                                                                    CAPABILITY_ITEMS)})
    if c.quality is not None and c.quality.baseline_k not in c.data.k:
        c.quality = c.quality.model_copy(update={"baseline_k": c.data.k[0]})
    # sections replaced whole, so that the config written for the smoke run has them even where the file had none
    c.report = c.report.model_copy(update={"cards": []})
    c.executor = c.executor.model_copy(update={"kind": "local", "isolate": True})
    c.tracking = type(cfg.tracking)()
    return c


def write_smoke_config(cfg: RunConfig, run_dir: Path) -> Path:
    path = run_dir / "smoke-config.yaml"
    atomic_write_text(path, "# written by safemix run --smoke from the run's config\n"
                      + yaml.safe_dump(smoke_config(cfg).model_dump(mode="json", exclude_unset=True), sort_keys=False))
    return path


def _train_rate(step_dir: Path) -> tuple[float, float, float] | None:
    """(tokens per second after the first step, seconds of the steps, tokens per example) from a training's log."""
    log = step_dir / "train_log.jsonl"
    try:
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    rows = [r for r in rows if r.get("tokens") and r.get("tokens_per_s")]
    if not rows:
        return None
    later = rows[1:] or rows
    rate = sum(r["tokens"] for r in later) / sum(r["tokens"] / r["tokens_per_s"] for r in later)
    steps_s = sum(r["tokens"] / r["tokens_per_s"] for r in rows)
    return rate, steps_s, sum(r["tokens"] for r in rows) / len(rows)


def project(full: RunConfig, smoke: RunConfig, smoke_dir: Path, full_dir: Path) -> dict:
    """The full run's projected time and peak memory per step, from the smoke run's measured steps."""
    from ..artifacts import RunRecord, read_record, run_record
    from .plan import plan

    rec = read_record(RunRecord, run_record(smoke_dir))
    measured: dict[str, list] = {}
    for t in rec.step_times:
        measured.setdefault(t.stage, []).append(t)
    smoke_steps = {s.stage: s for s in plan(smoke, smoke_dir)}
    answers_full = prompts_asked(full, full.generate.limit_per_suite)
    answers_smoke = prompts_asked(smoke, smoke.generate.limit_per_suite)
    rate = _train_rate(smoke_steps["train"].path) if "train" in smoke_steps else None
    kmax = max(smoke.data.k) or 1
    # each smoke step ran in a fresh process: its start (Python, torch) is in every step's time but not in a step of
    # one process. A mixture step does almost nothing else: its time is that start
    start = min((t.seconds for t in measured.get("mixture", [])), default=0.0)
    rows = []
    for step in plan(full, full_dir):
        ts = measured.get(step.stage)
        if not ts:
            rows.append({"stage": step.stage, "point": step.point, "seconds": None, "peak_mb": None})
            continue
        mean = max(0.0, sum(t.seconds for t in ts) / len(ts) - start)
        peak = max(t.peak_rss_mb for t in ts)
        if step.stage in ("train", "dpo") and rate:
            tokens_per_s, steps_s, tokens_per_step = rate
            fixed = max(0.0, mean - steps_s)
            t = full.train
            examples = full.data.n_general + step.k - t.val_size if step.stage == "train" else step.k
            epochs = t.epochs if step.stage == "train" else full.dpo.epochs
            per_epoch = math.ceil(math.ceil(max(1, examples) / t.micro_batch_size) / t.accumulation)
            n_steps = max(1, math.ceil(epochs * per_epoch))  # as the training counts them (train/recipe.py)
            n_steps = min(n_steps, t.max_steps) if (t.max_steps and step.stage == "train") else n_steps
            seconds = fixed + n_steps * tokens_per_step / tokens_per_s
        elif step.stage == "generate":
            b = full.generate.batch_size
            seconds = mean * math.ceil(answers_full / b) / max(1, math.ceil(answers_smoke / b))
        elif step.stage in ("judge", "quality"):
            seconds = mean * answers_full / max(1, answers_smoke)
        elif step.stage == "capability":
            # the full run's items per task over the smoke's; every item of each task: the tasks' sizes where known
            items = full.capability.limit
            seconds = mean * (items / smoke.capability.limit if items else _capability_scale(full, smoke))
        elif step.stage == "pairs":
            seconds = mean * step.k / kmax
        else:
            seconds = mean
        rows.append({"stage": step.stage, "point": step.point, "seconds": round(seconds, 1), "peak_mb": round(peak)})
    known = [r["seconds"] for r in rows if r["seconds"] is not None]
    return {"steps": rows, "seconds": round(sum(known), 1), "peak_mb": max((r["peak_mb"] or 0) for r in rows),
            "smoke_seconds": rec.seconds_this_call, "smoke_peak_mb": rec.peak_rss_mb,
            "answers_per_point": {"smoke": answers_smoke, "full": answers_full}}


def _capability_scale(full: RunConfig, smoke: RunConfig) -> float:
    """Items of every task over the smoke's items (local tasks are counted; a harness task is taken as 1,000)."""
    from ..capability.tasks import parse_tasks, read_mc

    total, seen = 0, 0
    for s in parse_tasks(full.capability.tasks):
        n = len(read_mc(s.path)) if s.local else 1000
        total += n
        seen += min(n, smoke.capability.limit)
    return total / max(1, seen)


def projection_table(p: dict) -> str:
    by_stage: dict[str, list] = {}
    for r in p["steps"]:
        by_stage.setdefault(r["stage"], []).append(r)
    lines = [f"{'stage':<11}{'steps':>6}{'projected s':>14}{'peak MB':>10}"]
    for stage, rs in by_stage.items():
        secs = [r["seconds"] for r in rs if r["seconds"] is not None]
        peaks = [r["peak_mb"] for r in rs if r["peak_mb"] is not None]
        lines.append(f"{stage:<11}{len(rs):>6}{(f'{sum(secs):,.0f}' if secs else 'n/a'):>14}"
                     f"{(f'{max(peaks):,}' if peaks else 'n/a'):>10}")
    m, s = divmod(int(p["seconds"]), 60)
    h, m = divmod(m, 60)
    lines.append(f"full run: about {h}:{m:02d}:{s % 60:02d} in one process, peak about {p['peak_mb']:,} MB "
                 f"(smoke run: {p['smoke_seconds']:.0f} s, peak {p['smoke_peak_mb']:,.0f} MB)")
    return "\n".join(lines)


def smoke(config: str | Path, run_dir: str | Path | None = None, *, data_dir=None, progress: bool = True) -> dict:
    """Run the smoke sweep, then project the full run; returns the projection (also ``projection.json``)."""
    from ..config import load_run_config
    from .pins import pin_config
    from .runner import console, load_with, run

    full = load_with(config, data_dir)
    full_dir = Path(run_dir or Path("runs") / full.name)
    full, _ = pin_config(full)
    smoke_dir = full_dir.with_name(full_dir.name + "-smoke")
    smoke_dir.mkdir(parents=True, exist_ok=True)
    path = write_smoke_config(full, smoke_dir)
    run(path, smoke_dir, progress=progress)
    small = load_run_config(path)
    small.data.data_dir = full.data.data_dir
    small, _ = pin_config(small)
    try:
        p = project(full, small, smoke_dir, full_dir)
    except (SafemixError, KeyError) as exc:
        raise SafemixError(f"the smoke run finished but its projection failed: {exc}") from None
    atomic_write_json(smoke_dir / "projection.json", p)
    console.print(projection_table(p), highlight=False, markup=False, soft_wrap=True)
    return p

"""``safemix audit CONFIG.yaml``: existing models on the suites and judges, no training -- the paper's
first finding (popular instruction-tuned models follow harmful instructions).

Each model (a built-in, a local folder or a Hub id, with its own chat template or the Alpaca
template) gets keyed, resumable steps of the run's own stages -- generate, judge, and capability / answer
quality when configured (run/stages.py), with the model as it is where a run has its train step -- in
``runs/<name>/``; a model whose steps are done is skipped, so a killed audit resumes. Its table is written by
the report's renderer.
One report: a row per model with harmful compliance, refusals of XSTest's safe prompts and of the
benign suite, answer quality and capability, each with its 95% interval.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from ..config import CapabilitySection, GenerateSection, JudgeOptions, _Strict, describe_errors, read_yaml
from ..errors import SafemixError
from ..fileio import atomic_write_text
from ..markers import require_done
from .plan import Step, content_key
from .stages import STAGES

COLUMNS = ("model", "spec", "metric", "judge", "n", "value", "ci_low", "ci_high")


class AuditModel(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a label (and a folder name)
    model: str  # built-in name, local folder or Hub id
    prompt_format: Literal["chat", "alpaca"] = "chat"


class AuditConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    models: list[AuditModel] = Field(min_length=1)
    generate: GenerateSection = GenerateSection()
    judges: list[str] = ["xstest-strmatch", "refusal-clf"]
    judge_options: JudgeOptions = JudgeOptions()
    capability: CapabilitySection | None = None
    quality_judge: str | None = None  # mean answer quality on the benign suite (e.g. quality-relevance)
    benign_suite: str = "I-Alpaca"
    data_dir: str | None = None

    @model_validator(mode="after")
    def _unique(self):
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: names must be unique, got {names}")
        return self


def load_audit_config(path: str | Path) -> AuditConfig:
    doc = read_yaml(path)
    if not isinstance(doc, dict):
        raise SafemixError(f"{path}: expected a mapping (name, models, generate, judges, ...)")
    try:
        return AuditConfig(**doc)
    except ValidationError as exc:
        raise SafemixError(f"{path}: {describe_errors(exc, AuditConfig)}") from None


def plan_audit(cfg: AuditConfig, run_dir: Path, refs: dict) -> list[tuple[AuditModel, list[Step]]]:
    """Each model's steps: the run's generate, judge and (when configured) capability stages, with the model as
    it is where a run has its train step. Each key is the stage's own key parts (the same ones a sweep's step
    hashes: local suites' and tasks' digests, judge options, attack templates), with the model's fingerprint and
    prompt format in place of the train step's key. Folder names: ``<stage>/<model name>-<key>``."""
    view = _StageView(cfg)
    out = []
    for m in cfg.models:
        fp = refs[m.name].fingerprint
        gkey = content_key(fp, m.prompt_format, *STAGES["generate"].key_parts(view, 0, 0))
        gen = Step(STAGES["generate"], 0, 0, gkey, run_dir / "generate" / f"{m.name}-{gkey}")
        jkey = content_key(gen.path.name, *STAGES["judge"].key_parts(view, 0, 0))
        steps = [gen, Step(STAGES["judge"], 0, 0, jkey, run_dir / "judge" / f"{m.name}-{jkey}", gen)]
        if cfg.capability:
            ckey = content_key(fp, *STAGES["capability"].key_parts(view, 0, 0))
            steps.append(Step(STAGES["capability"], 0, 0, ckey, run_dir / "capability" / f"{m.name}-{ckey}"))
        out.append((m, steps))
    return out


def audit(config: str | Path, out: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """Run every model's unfinished steps, then write ``report/`` (audit.csv, report.md, report.html)."""
    from ..judge.base import check_options
    from ..models import resolve_model
    from ..models.hub import at_commit  # each Hub model at the commit its keys were made with

    cfg = load_audit_config(config)
    if data_dir:
        cfg.data_dir = str(data_dir)
    check_options(cfg.judges, cfg.judge_options.given())
    run_dir = Path(out or Path("runs") / cfg.name)
    refs = {m.name: resolve_model(m.model) for m in cfg.models}  # every model resolves before any work
    view = _StageView(cfg)
    results = []
    for m, steps in plan_audit(cfg, run_dir, refs):
        for step in steps:
            if not step.done:
                print(f"audit {m.name}: {step.stage}", flush=True)
                ctx = step.spec.context(view, step.path, step.parent.path if step.parent else None, 0, 0, True)
                step.spec.run(replace(ctx, model=at_commit(m.model, refs[m.name].revision), prompt_format=m.prompt_format,
                                      label=m.name))
        gen, jud, *cap = steps
        require_done(jud.path, "judge", f"safemix audit {config}")
        results.append((m, gen.path, jud.path, cap[0].path if cap else None))
    return write_audit_report(cfg, results, run_dir / "report")


class _StageView:
    """The audit config under the paths the stages read (the run config's): ``judges`` adds the quality judge,
    ``budget`` is none, ``data.data_dir`` is the audit's."""

    def __init__(self, cfg: AuditConfig):
        self.generate, self.judge_options, self.capability, self.budget = cfg.generate, cfg.judge_options, cfg.capability, None
        self.judges = cfg.judges + ([cfg.quality_judge] if cfg.quality_judge else [])
        self.data = SimpleNamespace(data_dir=cfg.data_dir)


def write_audit_report(cfg: AuditConfig, results, out: Path) -> Path:
    from ..artifacts import Point
    from ..report.headline import EXAGGERATED_SAFETY, HARM
    from ..report.render import Table, markdown, page
    from ..report.results import collect, to_csv

    rows = []
    want = {HARM[:2]: HARM[2], EXAGGERATED_SAFETY[:2]: "refusals of XSTest's safe prompts",
            (cfg.benign_suite, "refusal_rate"): f"refusals of {cfg.benign_suite} (benign)",
            (cfg.benign_suite, "mean_score"): f"answer quality on {cfg.benign_suite} (mean score)"}
    for m, gen, jud, cap in results:
        found, _, _ = collect([Point(0, 1, gen, jud, capability=cap)])
        for r in found:
            label = want.get((r["suite"], r["metric"]))
            if r["judge"] == "lm-eval" and r["metric"] == "acc":
                label = f"capability: {r['suite']} accuracy"
            if label:
                rows.append({"model": m.name, "spec": m.model, "metric": label, "judge": r["judge"], "n": r["n"],
                             "value": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]})
    if not rows:
        raise SafemixError("audit: no results to report (no harmful, XSTest or benign suite was generated?)")
    atomic_write_text(out / "audit.csv", to_csv(rows, COLUMNS))
    order = list(want.values())  # headline first: harm, over-refusal, benign refusals, quality, then capability
    metrics = sorted(dict.fromkeys((r["metric"], r["judge"]) for r in rows),
                     key=lambda mj: (order.index(mj[0]) if mj[0] in order else len(order), mj))
    cell = {(r["model"], r["metric"], r["judge"]): f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" for r in rows}
    table = Table("Models", "Existing models, no training; 95% intervals (Wilson for rates).",
                  ["model", *[f"{mt} ({j})" for mt, j in metrics]],
                  [[m.name, *[cell.get((m.name, mt, j), "—") for mt, j in metrics]] for m, *_ in results])
    title = f"safemix audit: {cfg.name}"
    atomic_write_text(out / "report.md", markdown(title, [], {}, [], tables=[table]))
    atomic_write_text(out / "report.html", page(title, [], {}, [], [], tables=[table]))
    return out

"""``safemix audit CONFIG.yaml``: existing models on the suites and judges, no training -- the paper's
first finding (popular instruction-tuned models follow harmful instructions).

Each model (a built-in, a local folder or a Hub id, with its own chat template or the Alpaca
template) gets keyed, resumable steps -- generate, judge, and capability / answer quality when
configured -- in ``runs/<name>/``; a model whose steps are done is skipped, so a killed audit resumes.
One report: a row per model with harmful compliance, refusals of XSTest's safe prompts and of the
benign suite, answer quality and capability, each with its 95% interval.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from ..artifacts import CAPABILITY
from ..config import CapabilitySection, GenerateSection, JudgeOptions, _Strict, describe_errors, read_yaml
from ..errors import SafemixError
from ..fileio import atomic_write_text
from ..markers import DONE, require_done
from .plan import content_key

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


def audit(config: str | Path, out: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """Run every model's unfinished steps, then write ``report/`` (audit.csv, report.md, report.html)."""
    from ..generate import generate, get_decoding
    from ..judge import judge
    from ..judge.base import check_options
    from ..models import resolve_model
    from .stages import judge_keys

    cfg = load_audit_config(config)
    dd = str(data_dir) if data_dir else cfg.data_dir
    check_options(cfg.judges, cfg.judge_options.given())
    run_dir = Path(out or Path("runs") / cfg.name)
    refs = {m.name: resolve_model(m.model) for m in cfg.models}  # every model resolves before any work
    g = cfg.generate
    results = []
    for m in cfg.models:
        ref = refs[m.name]
        gen = run_dir / "generate" / f"{m.name}-{content_key(ref.fingerprint, m.prompt_format, g.model_dump())}"
        if not (gen / DONE).is_file():
            print(f"audit {m.name}: generate", flush=True)
            generate(g.suites, gen, get_decoding(g.preset, g.max_new_tokens, 0), model=m.model, prompt_format=m.prompt_format,
                     batch_size=g.batch_size, limit_per_suite=g.limit_per_suite, backend=g.backend, data_dir=dd,
                     progress=f"generate {m.name}")
        names = cfg.judges + ([cfg.quality_judge] if cfg.quality_judge else [])
        jud = run_dir / "judge" / f"{m.name}-{content_key(gen.name, judge_keys(names, **cfg.judge_options.given()))}"
        if not (jud / DONE).is_file():
            print(f"audit {m.name}: judge", flush=True)
            judge(names, gen, jud, judge_kwargs={"data_dir": dd, **cfg.judge_options.given()})
        cap = None
        if cfg.capability:
            cap = run_dir / "capability" / f"{m.name}-{content_key(ref.fingerprint, cfg.capability.model_dump())}"
            if not (cap / CAPABILITY).is_file():
                from ..capability import evaluate_capability

                print(f"audit {m.name}: capability", flush=True)
                c = cfg.capability
                evaluate_capability(c.tasks, cap / CAPABILITY, model=m.model, num_fewshot=c.num_fewshot,
                                    limit=c.limit, batch_size=c.batch_size)
        require_done(jud, "judge", f"safemix audit {config}")
        results.append((m, gen, jud, cap))
    return write_audit_report(cfg, results, run_dir / "report")


def write_audit_report(cfg: AuditConfig, results, out: Path) -> Path:
    from ..artifacts import Point
    from ..report.headline import EXAGGERATED_SAFETY, HARM
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
    head = ["model", *[f"{mt} ({j})" for mt, j in metrics]]
    body = [[m.name, *[cell.get((m.name, mt, j), "—") for mt, j in metrics]] for m, *_ in results]
    md = [f"# safemix audit: {cfg.name}", "", "Existing models, no training; 95% intervals (Wilson for rates).", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in body]
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    esc = html.escape
    page = ("<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
            "content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>" + esc(f"safemix audit: {cfg.name}")
            + "</title></head><body><h1>" + esc(f"safemix audit: {cfg.name}") + "</h1><table border='1'><tr>"
            + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body) + "</table></body></html>\n")
    atomic_write_text(out / "report.html", page)
    return out

"""``safemix eval``: the "no loss of helpfulness" checks -- capability (lm-eval) and answer quality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..capability.config import CapabilitySection
from .options import BaseModel, add_flags, flags_of, validated

app = typer.Typer(rich_markup_mode=None, help="Capability (lm-evaluation-harness) and answer-quality evaluation.", no_args_is_help=True)


# one flag per field of the capability section (its description is the help); --tasks is required here
CAPABILITY_FLAGS = flags_of(CapabilitySection, "capability")


@app.command("capability")
@add_flags(CAPABILITY_FLAGS)
def capability_cmd(
    out: Path = typer.Option(..., help="Output JSON: scores per task with standard errors."),
    model: Optional[str] = BaseModel,
    adapter: Optional[Path] = typer.Option(None, help="A 'safemix train' output folder (merged before scoring)."),
    trust_remote_code: bool = typer.Option(False, help="Allow model code from the Hub (off by default)."),
    flags: Optional[dict] = None,
) -> None:
    """Score a model (+ adapter) with EleutherAI's lm-evaluation-harness (needs the lmeval extra)."""
    from ..capability import evaluate_capability

    c = validated(CapabilitySection, (flags or {}).get("capability", {}), CAPABILITY_FLAGS, "capability")
    doc = evaluate_capability(c.tasks, out, model=model, adapter=adapter, num_fewshot=c.num_fewshot, limit=c.limit,
                              batch_size=c.batch_size, trust_remote_code=trust_remote_code)
    for task, sc in doc["tasks"].items():
        typer.echo(f"{task}: acc {sc.get('acc', float('nan')):.4f} ± {sc.get('acc_stderr', float('nan')):.4f}"
                   f" (n={sc.get('n')})")
    typer.echo(f"wrote {out}")


@app.command("quality")
def quality_cmd(
    baseline: Path = typer.Option(..., help="Generation folder of the baseline (the paper: the k=0 model)."),
    candidate: Path = typer.Option(..., help="Generation folder of the model to compare."),
    out: Path = typer.Option(..., help="Output folder: both sides' verdicts and win_rate.json."),
    judge: str = typer.Option("quality-rm", help="Quality judge: quality-rm (the paper's reward model) or "
                              "quality-relevance (offline proxy)."),
    judge_model: Optional[str] = typer.Option(None, help="quality-rm: a reward-model folder or Hub id."),
    suite: str = typer.Option("I-Alpaca", help="The suite whose answers are compared."),
) -> None:
    """Pairwise win rate of the candidate's answers over the baseline's (ties half, 95% bootstrap CI)."""
    from ..judge.quality import compare_quality

    doc = compare_quality(baseline, candidate, out, judge=judge, suite=suite, judge_model=judge_model)
    typer.echo(json.dumps(doc))

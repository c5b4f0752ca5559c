"""``safemix generate``: answers to the eval suites."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..generate import generate, get_decoding
from ..generate.config import GenerateSection
from .options import BaseModel, DataDir, add_flags, flags_of, validated

# one flag per field of the generate section (its description is the help), but the engine's own options (the
# config's generate.vllm)
GENERATE_FLAGS = [f for f in flags_of(GenerateSection, "generate") if f.field != "vllm"]


@add_flags(GENERATE_FLAGS)
def generate_cmd(
    out: Path = typer.Option(..., help="Output folder: one SUITE.jsonl per suite (also the cache)."),
    model: Optional[str] = BaseModel,
    adapter: Optional[Path] = typer.Option(None, help="A 'safemix train' output folder (LoRA adapter or full weights)."),
    seed: int = typer.Option(0, help="Seed for subsampling and the sample preset."),
    prompt_format: Optional[str] = typer.Option(None, help="alpaca or chat (default: the adapter's training format)."),
    allow_format_mismatch: bool = typer.Option(False, help="Allow a prompt format other than the adapter's (recorded)."),
    data_dir: Optional[Path] = DataDir,
    flags: Optional[dict] = None,
) -> None:
    """Generate answers for every prompt of the chosen suites; re-runs skip finished records."""
    g = validated(GenerateSection, (flags or {}).get("generate", {}), GENERATE_FLAGS, "generate")
    decoding = get_decoding(g.preset, g.max_new_tokens, seed)
    paths = generate(g.suites, out, decoding, model=model, adapter=adapter, prompt_format=prompt_format,
                     allow_format_mismatch=allow_format_mismatch, batch_size=g.batch_size,
                     limit_per_suite=g.limit_per_suite, seed=seed, backend=g.backend, bf16=g.bf16, data_dir=data_dir,
                     progress="generate", attacks=g.attacks, attack_suites=g.attack_suites)
    for suite, path in paths.items():
        typer.echo(f"wrote {path}")

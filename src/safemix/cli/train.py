"""``safemix train``: LoRA / full fine-tuning on a mixture file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..artifacts import TRAIN_MANIFEST
from ..config import load_train_config
from ..train import train
from .options import DataDir, add_flags, tracking_flag_list, tracking_flags

ARG_FIELDS = ("model", "method", "objective", "dpo_beta", "reference", "prompt_format", "epochs", "max_steps", "learning_rate", "batch_size",
              "micro_batch_size", "cutoff_len", "seed", "val_size", "lora_r", "train_on_inputs", "save_every",
              "gradient_checkpointing", "bf16")


@add_flags(tracking_flag_list())
def train_cmd(
    data: str = typer.Option(..., help="Training data: a mixture from 'safemix data mix', any Alpaca JSON/JSONL "
                                       "file, or a registry name; for --objective dpo, preference pairs (JSON/JSONL "
                                       "with prompt, chosen, rejected; or HH-RLHF dialogues, e.g. hh-harmless)."),
    out: Path = typer.Option(..., help="Output folder (adapter or weights, tokenizer, config, train_log.jsonl, "
                                       "manifest.json); built in OUT.partial and renamed when finished."),
    model: Optional[str] = typer.Option(None, help="Model: built-in name (smollm2-135m), local folder, or Hub id."),
    config: Optional[Path] = typer.Option(None, help="YAML with training options (or a run config's 'train' section)."),
    method: Optional[str] = typer.Option(None, help="lora (default), full, or qlora (CUDA + bitsandbytes)."),
    objective: Optional[str] = typer.Option(None, help="sft (default: next-token loss on demonstrations) or dpo "
                                                       "(preference pairs; LoRA)."),
    dpo_beta: Optional[float] = typer.Option(None, help="DPO's beta (default 0.1)."),
    reference: Optional[str] = typer.Option(None, help="dpo: a finished LoRA training (e.g. the k=0 SFT model) to start "
                                                       "from and to use as the reference (default: the base model)."),
    prompt_format: Optional[str] = typer.Option(None, help="alpaca (the paper's template) or chat (model's template)."),
    epochs: Optional[float] = typer.Option(None, help="Epochs (fractions allowed)."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (overrides epochs)."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (paper: 3e-4)."),
    batch_size: Optional[int] = typer.Option(None, help="Examples per optimizer step (paper: 128)."),
    micro_batch_size: Optional[int] = typer.Option(None, help="Examples per forward pass (gradient accumulation)."),
    cutoff_len: Optional[int] = typer.Option(None, help="Maximum tokens per example (paper: 256)."),
    seed: Optional[int] = typer.Option(None, help="Seed for batching, dropout and initialisation."),
    val_size: Optional[int] = typer.Option(None, help="Held-out examples; keeps the checkpoint with best val loss."),
    lora_r: Optional[int] = typer.Option(None, help="LoRA rank (paper: 8)."),
    train_on_inputs: Optional[bool] = typer.Option(None, "--train-on-inputs/--response-only",
                                                   help="Loss on prompt tokens too (the paper's code) or only on the response."),
    save_every: Optional[int] = typer.Option(None, help="Optimizer steps between resumable checkpoints."),
    gradient_checkpointing: Optional[bool] = typer.Option(None, "--gradient-checkpointing/--no-gradient-checkpointing",
                                                          help="Recompute activations in the backward pass: about "
                                                               "half the memory, ~40% slower, same weights."),
    bf16: Optional[str] = typer.Option(None, help="auto (bf16 autocast on a GPU, fp32 on the CPU), true (bf16 on the CPU "
                                                  "too: ~2x faster where it has bf16 instructions, losses not identical) or false."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Retrain even if OUT is already finished."),
    data_dir: Optional[Path] = DataDir,
    flags: Optional[dict] = None,
) -> None:
    """Fine-tune a model on a mixture (LoRA by default, with the paper's hyperparameters)."""
    overrides = {k: v for k, v in locals().items() if k in ARG_FIELDS}
    cfg = load_train_config(config, overrides)
    if (out / TRAIN_MANIFEST).is_file() and not overwrite:
        typer.echo(f"{out} is already trained (use --overwrite to retrain)")
        return
    live = None
    section = tracking_flags(flags or {})
    if section.any():
        from ..track import open_trackers
        from ..track.live import LiveTracking

        live = LiveTracking(open_trackers(section, Path.cwd()), out, cfg, data)
    folder = train(cfg, data, out, data_dir=data_dir, resume=resume, overwrite=overwrite, tracking=live)
    if os.environ.get("RANK", "0") == "0":  # under torchrun / accelerate launch: once, not per process
        typer.echo(f"wrote {folder}")

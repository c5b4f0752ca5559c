"""``safemix train``: LoRA / full fine-tuning on a mixture file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..artifacts import TRAIN_MANIFEST
from ..config import load_train_config
from ..train import train
from ..train.config import TrainConfig
from .options import DataDir, add_flags, flags_of, tracking_flag_list, tracking_flags

# one flag per field of the train section (its description is the help): --learning-rate (also --lr), --lora-r, ...
TRAIN_FLAGS = flags_of(TrainConfig, "train", aliases={"learning_rate": ("lr",)})


@add_flags(TRAIN_FLAGS + tracking_flag_list())
def train_cmd(
    data: str = typer.Option(..., help="Training data: a mixture from 'safemix data mix', any Alpaca JSON/JSONL "
                                       "file, or a registry name; for --objective dpo, preference pairs (JSON/JSONL "
                                       "with prompt, chosen, rejected; or HH-RLHF dialogues, e.g. hh-harmless)."),
    out: Path = typer.Option(..., help="Output folder (adapter or weights, tokenizer, config, train_log.jsonl, "
                                       "manifest.json); built in OUT.partial and renamed when finished."),
    config: Optional[Path] = typer.Option(None, help="YAML with training options (or a run config's 'train' section); "
                                                     "flags given override it."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Retrain even if OUT is already finished."),
    data_dir: Optional[Path] = DataDir,
    flags: Optional[dict] = None,
) -> None:
    """Fine-tune a model on a mixture (LoRA by default, with the paper's hyperparameters)."""
    cfg = load_train_config(config, (flags or {}).get("train", {}), TRAIN_FLAGS)
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

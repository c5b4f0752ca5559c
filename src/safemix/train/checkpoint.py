"""Resumable checkpoints: trainable weights, optimizer, scheduler, RNG and counters, swapped in
atomically (a kill at any moment leaves either the previous or the new checkpoint, whole)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

NAME = "checkpoint"


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def save_checkpoint(root: Path, model, optimizer, scheduler, state: dict) -> None:
    tmp, final, old = root / f"{NAME}.tmp", root / NAME, root / f"{NAME}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng}, tmp / "optim.pt")
    (tmp / "state.json").write_text(json.dumps(state))
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(root: Path) -> Path | None:
    for name in (NAME, f"{NAME}.old"):  # .old survives a kill between the two renames
        if (root / name / "state.json").is_file():
            return root / name
    return None


class CorruptCheckpoint(Exception):
    """A checkpoint that cannot be read back (truncated, garbage, or from another model)."""


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict:
    """Restore a checkpoint into model, optimizer and scheduler; returns the saved counters.
    Any unreadable part raises :class:`CorruptCheckpoint` (the objects may be half-restored)."""
    try:
        return _load(path, model, optimizer, scheduler)
    except Exception as exc:  # safetensors, unpickling, shapes, JSON: all mean "cannot resume from this"
        raise CorruptCheckpoint(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def _load(path: Path, model, optimizer, scheduler) -> dict:
    tensors = load_file(str(path / "trainable.safetensors"))
    missing = set(n for n, p in model.named_parameters() if p.requires_grad) - set(tensors)
    if missing:
        raise RuntimeError(f"checkpoint {path} lacks {len(missing)} trainable tensors")
    model.load_state_dict(tensors, strict=False)
    blob = torch.load(path / "optim.pt", weights_only=True)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"]["cpu"])
    if "cuda" in blob["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["rng"]["cuda"])
    state = json.loads((path / "state.json").read_text())
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ValueError("state.json has no step counter")
    return state

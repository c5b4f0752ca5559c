"""Where each stage's artifacts live on disk: one place for every file and folder name.

- a mixture folder holds ``k{K}.json`` (Alpaca JSON) and ``k{K}.manifest.json`` per k;
- a training output holds ``manifest.json`` (written last), ``adapter/`` (LoRA) or ``model/``
  (full fine-tune), ``tokenizer/``, ``config.yaml`` and ``train_log.jsonl``;
- a generation folder holds ``SUITE.jsonl`` per suite and ``done.json`` (markers.py);
- a judge folder holds ``SUITE.JUDGE.jsonl`` per suite and judge and ``done.json``;
- a capability step writes ``capability.json``.
"""

from __future__ import annotations

from pathlib import Path

MIXTURE = "k{k}.json"
MIXTURE_MANIFEST = "k{k}.manifest.json"
TRAIN_MANIFEST = "manifest.json"
CAPABILITY = "capability.json"
TRAIN_LOG = "train_log.jsonl"


def mixture_file(folder: str | Path, k: int) -> Path:
    return Path(folder) / MIXTURE.format(k=k)


def mixture_manifest(folder: str | Path, k: int) -> Path:
    return Path(folder) / MIXTURE_MANIFEST.format(k=k)


def weights_dir(train_out: str | Path, kind: str) -> Path:
    """``adapter/`` for a LoRA/QLoRA output (manifest kind "adapter"), ``model/`` for a full fine-tune."""
    return Path(train_out) / ("model" if kind == "full" else "adapter")


def generation_file(folder: str | Path, suite: str) -> Path:
    return Path(folder) / f"{suite}.jsonl"


def verdict_file(folder: str | Path, suite: str, judge_id: str) -> Path:
    return Path(folder) / f"{suite}.{judge_id}.jsonl"

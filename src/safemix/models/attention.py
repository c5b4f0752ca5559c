"""Which attention kernels a GPU runs. PyTorch's cuDNN attention builds a plan for each new shape on first
use, and every batch of prompts or training examples brings new lengths: on an H100 that made generation's
first passes 1.8-4.3x and LoRA training steps 3.4-4.2x slower than the other kernels (bench/gpu_point.py, with
--cudnn-attention and --train-cudnn-attention on). safemix keeps a GPU's attention off cuDNN while it
generates (guard judges too, through the same backend), trains and scores lm-eval tasks (the same
varying shapes; not measured there); flash, memory-efficient and math attention need no plan."""

from __future__ import annotations

import contextlib


def attention_kernels(device: str, cudnn: bool = False):
    """A context that keeps attention off cuDNN's kernels on a GPU unless ``cudnn``; nothing changes on the CPU."""
    if device != "cuda" or cudnn:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])

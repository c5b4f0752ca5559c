"""The memory plan: what each stage of a run will need, from the model's shapes and the config, against the
memory of the device it runs on (CPU RAM, or each GPU), printed and checked by ``safemix run --check``.

Per stage, in bytes (``dt``: the compute dtype's size, 4 for fp32 on a CPU, 2 for bf16 on a GPU):

- **train**: the weights (params x dt; LoRA on the CPU also keeps the frozen weights packed for oneDNN, one more
  copy); the trained parameters with their gradient and AdamW's two moments in fp32 (16 bytes each: the LoRA
  matrices, or every weight for full fine-tuning); activations, micro-batch x cutoff_len tokens x per-token bytes:
  layers x (18 x hidden + 12 x intermediate) floats (sdpa attention; with gradient checkpointing only each
  layer's input is kept, plus one layer's whole set) and the logits (vocab floats a token);
- **generate** (transformers): the weights, the merged copy made from the adapter, the KV cache for one batch,
  batch x beams x (longest prompt + max_new_tokens) x layers x 2 x kv_heads x head_dim x dt, one layer's prompt
  pass (batch x longest prompt x (2 x intermediate + heads x longest prompt) floats) and one step's logits;
  vLLM: its ``gpu_memory_utilization`` share of the GPU;
- **capability**: the weights, the merged copy, and log-likelihood logits, batch x 128 tokens x vocab floats;
- each process: a fixed runtime (Python, torch, tokenizers, the judges' features), ``RUNTIME_BYTES``.

The constants are checked against the quickstart's measured peaks per step (each step in its own process),
docs/explanations/benchmarks.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import SafemixError

GB = 1024 ** 3
RUNTIME_BYTES = int(0.5 * GB)  # Python, torch, tokenizers and libraries in a step's process (measured: 485 MB)
LOGLIK_TOKENS = 128  # tokens per capability item assumed for its logits


@dataclass(frozen=True)
class Shapes:
    """What the plan needs of a model, read from its config and its module tree (no weights loaded)."""
    params: int
    layers: int
    hidden: int
    intermediate: int
    vocab: int
    kv_heads: int
    head_dim: int
    lora_params: int  # trainable LoRA parameters for the configured targets and rank


def shapes(conf, model, targets: list[str] | None, rank: int) -> Shapes:
    """Shapes from a transformers config and its model built on the meta device."""
    params = sum(p.numel() for p in model.parameters())
    hidden = getattr(conf, "hidden_size", None) or getattr(conf, "n_embd", 0)
    heads = getattr(conf, "num_attention_heads", None) or 1
    head_dim = getattr(conf, "head_dim", None) or hidden // heads
    lora = 0
    for name, m in model.named_modules():
        if targets and name.rsplit(".", 1)[-1] in targets and hasattr(m, "in_features"):
            lora += rank * (m.in_features + m.out_features)
    return Shapes(params, getattr(conf, "num_hidden_layers", 0), hidden, getattr(conf, "intermediate_size", 4 * hidden),
                  getattr(conf, "vocab_size", 0), getattr(conf, "num_key_value_heads", None) or heads, head_dim, lora)


@dataclass(frozen=True)
class Need:
    stage: str
    total: int
    parts: dict[str, int]

    def describe(self) -> str:
        return f"{self.total / GB:.1f} GB (" + ", ".join(f"{k} {v / GB:.2f}" for k, v in self.parts.items() if v) + ")"


def device() -> tuple[str, int, bool]:
    """(name, bytes a stage may use, whether it is a GPU): the first CUDA GPU's memory, else the RAM available now."""
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return f"GPU 0 ({props.name})", int(props.total_memory), True
    except ImportError:  # pragma: no cover
        pass
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if ":" in line}
        return "CPU RAM (available)", info.get("MemAvailable", info.get("MemTotal", 0)), False
    except OSError:  # not Linux: the plan is printed, never failed on
        return "CPU RAM (unknown)", 0, False


def _dtype_bytes(bf16: str, gpu: bool) -> int:
    """A stage's compute dtype size: bf16 when asked, or by default on a GPU; fp32 otherwise."""
    return 2 if bf16 == "true" or (gpu and bf16 == "auto") else 4


def plan_memory(cfg, s: Shapes, longest_prompt: int, gpu: bool) -> list[Need]:
    """What each heavy stage needs (bytes)."""
    t, g = cfg.train, cfg.generate
    dt = _dtype_bytes(t.bf16, gpu)
    weights = s.params * dt
    token_floats = s.layers * (18 * s.hidden + 12 * s.intermediate)
    if t.gradient_checkpointing:
        token_floats = s.layers * s.hidden + 18 * s.hidden + 12 * s.intermediate
    per_token = 4 * (token_floats + s.vocab)
    trained = s.params if t.method == "full" else s.lora_params
    packed = weights if (not gpu and t.method == "lora") else 0
    train = {"weights": weights + packed, "trained+optimizer": 16 * trained,
             "activations": t.micro_batch_size * t.cutoff_len * per_token, "runtime": RUNTIME_BYTES}
    out = [Need("train", sum(train.values()), train)]
    from ..generate.presets import get_decoding

    d = get_decoding(g.preset, g.max_new_tokens)
    gdt = _dtype_bytes(g.bf16, gpu)
    if g.backend == "vllm":
        share = getattr(getattr(g, "vllm", None), "gpu_memory_utilization", None) or 0.9
        gen = {"vllm share": int(share * device()[1]) if gpu else 0, "runtime": RUNTIME_BYTES}
    else:
        rows = g.batch_size * d.num_beams
        kv = rows * (longest_prompt + d.max_new_tokens) * s.layers * 2 * s.kv_heads * s.head_dim * gdt
        heads = max(1, s.hidden // max(1, s.head_dim))
        prefill = rows * longest_prompt * (2 * s.intermediate + heads * longest_prompt) * 4  # one layer's, at a time
        gen = {"weights": s.params * gdt, "merged copy": s.params * gdt if t.method != "full" else 0, "kv cache": kv,
               "prefill": prefill, "logits": rows * s.vocab * 4, "runtime": RUNTIME_BYTES}
    out.append(Need("generate", sum(gen.values()), gen))
    if cfg.capability is not None:
        cap = {"weights": s.params * gdt, "merged copy": s.params * gdt if t.method != "full" else 0,
               "logits": cfg.capability.batch_size * LOGLIK_TOKENS * s.vocab * 4, "runtime": RUNTIME_BYTES}
        out.append(Need("capability", sum(cap.values()), cap))
    return out


def check_plan(needs: list[Need], name: str, have: int) -> str:
    """One line for --check; a SafemixError naming the stage that cannot fit."""
    over = [n for n in needs if have and n.total > have]
    text = "; ".join(f"{n.stage} {n.describe()}" for n in needs)
    if over:
        worst = max(over, key=lambda n: n.total)
        raise SafemixError(f"{worst.stage} needs about {worst.total / GB:.1f} GB, {name} has {have / GB:.1f} GB: {text}")
    return f"{name} {have / GB:.1f} GB; {text}" if have else text


def env_bytes(name: str) -> int | None:
    """A memory size from the environment (tests; a job's own limit), e.g. SAFEMIX_MEMORY_LIMIT=8G."""
    value = os.environ.get(name)
    if not value:
        return None
    units = {"K": 1024, "M": 1024 ** 2, "G": GB, "T": 1024 * GB}
    try:
        return int(float(value[:-1]) * units[value[-1].upper()]) if value[-1].upper() in units else int(value)
    except (ValueError, KeyError):
        raise SafemixError(f"{name}={value!r}: expected a size such as 8G or 512M") from None

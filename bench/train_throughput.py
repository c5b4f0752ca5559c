"""Training throughput: safemix's trainer vs the seed repo's recipe (HF Trainer + PEFT).

Same model (smollm2-135m), same 200 mixture examples (identical token sequences), same
hyperparameters (LoRA r=8 on q/v, lr 3e-4, batch 16 = 2 x 8, one epoch, cutoff 256).
The baseline follows alpaca-lora/safety-tuned-llamas: padding to the longest sequence of each
micro-batch, loss on all tokens, no length grouping; safemix's leg also puts the loss on all tokens
(``train_on_inputs: true``; its default is the response only), so both train on the same loss tokens.
Both numbers use the same token count (the examples' real tokens), so the ratio is the ratio of wall
times. Each leg's final step loss and mean step loss over the epoch are reported. The legs run interleaved over
``--repeats`` (baseline, safemix, then safemix, baseline, ...): the ratio is the median of the
per-repeat ratios, with its spread.

The opt-in bf16 mode (``bf16: true``, autocast with the frozen base held in bf16) runs as two more
legs: safemix in bf16, and the seed recipe in bf16 (``TrainingArguments(bf16=True)``, its own mixed
precision), so that bf16 is compared with the seed both as the seed runs here (fp32) and like with
like (both bf16). bf16's losses should be close to fp32's.

Three lever legs, like with like: safemix with PyTorch's dropout masks (``dropout_masks: torch``), safemix with the
frozen base's weights as they are, not packed into oneDNN's layout (``SFTRecipe.cpu_packed_weights = False``), and safemix with
PEFT's own LoRA layers instead of its fused ones (``SFTRecipe.cpu_fused_lora``). The process keeps freed memory
for large tensors, as the command line does, unless ``--no-keep-freed-memory``.

Usage: python bench/train_throughput.py [--data-dir ../shared/data] [--n 200] [--lora quickstart] [--no-bf16]
The last printed line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safemix.data import load_instructions, mix, write_mixtures  # noqa: E402
from safemix.formats import get_format  # noqa: E402
from safemix.models import load_causal_lm, load_tokenizer, resolve_model  # noqa: E402
from safemix.models.cpu_memory import keep_freed_memory  # noqa: E402
from safemix.train import TrainConfig, encode_all, train  # noqa: E402
from safemix.train.recipe import SFTRecipe  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _legs import interleaved, machine_limits, roofline, spread  # noqa: E402

HP = dict(learning_rate=3e-4, batch_size=16, micro_batch_size=8, epochs=1, cutoff_len=256, seed=1, lora_r=8,
          lora_alpha=16, lora_target_modules=["q_proj", "v_proj"])
# --lora quickstart: the quickstart's LoRA (r=16 on all seven projections), where dropout draws 7 masks a layer
QUICKSTART_LORA = dict(lora_r=16, lora_alpha=32, lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                      "gate_proj", "up_proj", "down_proj"])
# like with like: safemix's loss covers the same tokens as the seed's (prompt and response), not its default
# (response only, which also spares the vocabulary projection on prompt tokens)
SAFEMIX_HP = dict(HP, train_on_inputs=True)


def make_mixture(data_dir: str, n: int, work: Path) -> Path:
    g = load_instructions("gpteacher-roleplay", data_dir)
    s = load_instructions("safety-tuned-llamas", data_dir)
    k = n // 10
    write_mixtures(mix(g, s, n - k, [k], seed=1), work)
    return work / f"k{k}.json"


def run_safemix(mixture: Path, work: Path, r: int = 0, bf16: str = "false", masks: str = "words",
                **levers: bool) -> tuple[float, list[float]]:
    """One safemix training; ``levers``: SFTRecipe class attributes set for this run only (e.g. cpu_fused_lora=False)."""
    defaults = {name: getattr(SFTRecipe, name) for name in levers}
    for name, value in levers.items():
        setattr(SFTRecipe, name, value)
    tag = "".join(f"-{k}={v}" for k, v in sorted(levers.items()))
    try:
        t = time.perf_counter()
        out = train(TrainConfig(progress=False, save_every=10_000, bf16=bf16, dropout_masks=masks, **SAFEMIX_HP), mixture,
                    work / f"safemix{r}-{bf16}-{masks}{tag}")
        dt = time.perf_counter() - t
    finally:
        for name, value in defaults.items():
            setattr(SFTRecipe, name, value)
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return dt, [x["loss"] for x in log if "loss" in x]


def run_baseline(mixture: Path, work: Path, r: int = 0, bf16: bool = False) -> tuple[float, list[float], int]:
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from safemix.data import read_instructions

    ref = resolve_model("smollm2-135m")
    tok = load_tokenizer(ref)
    examples, _ = encode_all(read_instructions(mixture), get_format("alpaca"), tok, HP["cutoff_len"], train_on_inputs=True)
    rows = [{"input_ids": e.input_ids, "attention_mask": [1] * len(e), "labels": e.input_ids} for e in examples]
    torch.manual_seed(HP["seed"])
    model = get_peft_model(load_causal_lm(ref), LoraConfig(r=HP["lora_r"], lora_alpha=HP["lora_alpha"], lora_dropout=0.05,
                                                           target_modules=HP["lora_target_modules"], task_type="CAUSAL_LM"))
    args = TrainingArguments(output_dir=str(work / f"baseline{r}-{bf16}"), bf16=bf16, per_device_train_batch_size=HP["micro_batch_size"],
                             gradient_accumulation_steps=HP["batch_size"] // HP["micro_batch_size"],
                             num_train_epochs=HP["epochs"], learning_rate=HP["learning_rate"], logging_steps=1,
                             save_strategy="no", report_to=[], use_cpu=True, seed=HP["seed"],
                             disable_tqdm=True)  # no length grouping (the default)
    trainer = Trainer(model=model, args=args, train_dataset=rows,
                      data_collator=DataCollatorForSeq2Seq(tok, padding=True, return_tensors="pt"))
    t = time.perf_counter()
    trainer.train()
    dt = time.perf_counter() - t
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return dt, losses, sum(len(e) for e in examples)


def loss_figures(legs: dict, ours: str, seed: str) -> dict:
    """The last repeat's final step loss and mean step loss over the epoch, for safemix's leg and the seed's."""
    out = {}
    for name, key in ((ours, "safemix"), (seed, "baseline")):
        steps = legs[name][-1][1]
        out.update({f"{key}_final_loss": round(steps[-1], 4), f"{key}_mean_loss": round(statistics.mean(steps), 4)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each leg (A B, B A, ...)")
    ap.add_argument("--lora", choices=("paper", "quickstart"), default="paper",
                    help="the paper's LoRA (r=8 on q/v) or the quickstart's (r=16 on all seven projections)")
    ap.add_argument("--no-bf16", action="store_true", help="leave out the two bf16 legs")
    ap.add_argument("--no-keep-freed-memory", action="store_true",
                    help="large tensors get fresh pages (the command line keeps freed memory: models/cpu_memory.py)")
    a = ap.parse_args()
    kept = False if a.no_keep_freed_memory else keep_freed_memory()
    if a.lora == "quickstart":
        HP.update(QUICKSTART_LORA)
        SAFEMIX_HP.update(QUICKSTART_LORA)
    limits = machine_limits()
    peak = limits["matmul_peak_gflops"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mixture = make_mixture(a.data_dir, a.n, work)
        legs = interleaved({"baseline": lambda r: run_baseline(mixture, work, r),
                            "safemix": lambda r: run_safemix(mixture, work, r),
                            # the dropout-mask lever, like with like: PEFT's nn.Dropout masks (train/dropout.py)
                            "safemix_torch_masks": lambda r: run_safemix(mixture, work, r, masks="torch"),
                            # the packed-weights lever: the frozen base's W and W^T as they are, not packed into
                            # oneDNN's layout (models/cpu_matmul.py)
                            "safemix_plain_weights": lambda r: run_safemix(mixture, work, r, cpu_packed_weights=False),
                            # the fused-LoRA lever: PEFT's own LoRA forward and backward (train/fused_lora.py)
                            "safemix_unfused_lora": lambda r: run_safemix(mixture, work, r, cpu_fused_lora=False),
                            **({} if a.no_bf16 else {
                                "safemix_bf16": lambda r: run_safemix(mixture, work, r, "true"),
                                "baseline_bf16": lambda r: run_baseline(mixture, work, r, True)})}, a.repeats)
    tokens = legs["baseline"][0][2]
    base_s = statistics.median(x[0] for x in legs["baseline"])
    ours_s = statistics.median(x[0] for x in legs["safemix"])
    n_params = sum(p.numel() for p in load_causal_lm(resolve_model("smollm2-135m")).parameters())
    gflops = 4 * n_params * tokens / min(x[0] for x in legs["safemix"]) / 1e9  # LoRA: forward + input grads, ~4 x params

    def place(runs: list) -> dict:
        """A leg's roofline position from its fastest repeat (flops: 4 x parameters per token; bytes: the frozen
        fp32 weights read twice per micro-batch, forward and the backward's input gradients)."""
        best = min(x[0] for x in runs)
        return roofline(4 * n_params * tokens / best / 1e9,
                        2 * 4 * n_params * math.ceil(a.n / HP["micro_batch_size"]) / best / 1e9, limits)

    def lever(leg: str, ratio: str, lever_is_safemix_default: bool) -> dict:
        """A lever leg beside safemix's: its speed, the speed ratio named ``ratio`` (the default's setting over the
        other), its mean loss and roofline position."""
        runs = legs[leg]
        default_over = [x[0] / o[0] for x, o in zip(runs, legs["safemix"])]  # safemix's speed over the leg's
        return {"tokens_per_s": round(tokens / statistics.median(x[0] for x in runs), 1),
                ratio: spread(default_over if lever_is_safemix_default else [1 / r for r in default_over]),
                "mean_loss": round(statistics.mean(runs[-1][1]), 4), "roofline": place(runs)}
    figures = {
        "examples": a.n, "tokens": tokens, "repeats": a.repeats, "keep_freed_memory": kept,
        "safemix_tokens_per_s": round(tokens / ours_s, 1), "baseline_tokens_per_s": round(tokens / base_s, 1),
        "safemix_seconds": round(ours_s, 1), "baseline_seconds": round(base_s, 1),
        "ratio": spread([b[0] / o[0] for b, o in zip(legs["baseline"], legs["safemix"])]),
        "safemix_gflops": round(gflops, 1), **limits, "share_of_peak": round(gflops / peak, 3),
        # bytes: the frozen fp32 weights are read twice per micro-batch (forward, and the backward's input gradients)
        "roofline": place(legs["safemix"]),
        "baseline_roofline": place(legs["baseline"]),
        **loss_figures(legs, "safemix", "baseline"),
        "lora": a.lora,
        "torch_masks": lever("safemix_torch_masks", "words_over_torch", True),
        "plain_weights": lever("safemix_plain_weights", "packed_over_plain", True),
        "unfused_lora": lever("safemix_unfused_lora", "fused_over_unfused", True),
    }
    if not a.no_bf16:
        figures["bf16"] = {
            "safemix_tokens_per_s": round(tokens / statistics.median(x[0] for x in legs["safemix_bf16"]), 1),
            "baseline_tokens_per_s": round(tokens / statistics.median(x[0] for x in legs["baseline_bf16"]), 1),
            "ratio_to_baseline_fp32": spread([b[0] / o[0] for b, o in zip(legs["baseline"], legs["safemix_bf16"])]),
            "ratio_to_baseline_bf16": spread([b[0] / o[0] for b, o in zip(legs["baseline_bf16"], legs["safemix_bf16"])]),
            "over_safemix_fp32": spread([f[0] / o[0] for f, o in zip(legs["safemix"], legs["safemix_bf16"])]),
            **loss_figures(legs, "safemix_bf16", "baseline_bf16"),
        }
    figures["note"] = ("both legs' loss covers the same tokens (prompt and response); batches differ (safemix groups by "
                       "length), so compare the epoch's mean step loss rather than the last step's")
    print(f"safemix  {figures['safemix_tokens_per_s']:>8} tok/s  ({ours_s:.1f} s)")
    print(f"baseline {figures['baseline_tokens_per_s']:>8} tok/s  ({base_s:.1f} s)")
    if "bf16" in figures:
        print(f"bf16: safemix {figures['bf16']['safemix_tokens_per_s']} tok/s, baseline {figures['bf16']['baseline_tokens_per_s']} tok/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Training throughput: safemix's trainer vs the seed repo's recipe (HF Trainer + PEFT).

Same model (smollm2-135m), same 200 mixture examples (identical token sequences), same
hyperparameters (LoRA r=8 on q/v, lr 3e-4, batch 16 = 2 x 8, one epoch, cutoff 256).
The baseline follows alpaca-lora/safety-tuned-llamas: padding to the longest sequence of each
micro-batch, loss on all tokens, no length grouping. Both numbers use the same token count (the
examples' real tokens), so the ratio is the ratio of wall times.

Usage: python bench/train_throughput.py [--data-dir ../shared/data] [--n 200]
The last printed line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safemix.data import load_instructions, mix, write_mixtures  # noqa: E402
from safemix.formats import get_format  # noqa: E402
from safemix.models import load_causal_lm, load_tokenizer, resolve_model  # noqa: E402
from safemix.train import TrainConfig, encode_all, train  # noqa: E402

HP = dict(learning_rate=3e-4, batch_size=16, micro_batch_size=8, epochs=1, cutoff_len=256, seed=1)


def make_mixture(data_dir: str, n: int, work: Path) -> Path:
    g = load_instructions("gpteacher-roleplay", data_dir)
    s = load_instructions("safety-tuned-llamas", data_dir)
    k = n // 10
    write_mixtures(mix(g, s, n - k, [k], seed=1), work)
    return work / f"k{k}.json"


def run_safemix(mixture: Path, work: Path) -> tuple[float, float]:
    t = time.perf_counter()
    out = train(TrainConfig(progress=False, save_every=10_000, **HP), mixture, work / "safemix")
    dt = time.perf_counter() - t
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return dt, log[-1]["loss"]


def run_baseline(mixture: Path, work: Path) -> tuple[float, float, int]:
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from safemix.data import read_instructions

    ref = resolve_model("smollm2-135m")
    tok = load_tokenizer(ref)
    examples, _ = encode_all(read_instructions(mixture), get_format("alpaca"), tok, HP["cutoff_len"], train_on_inputs=True)
    rows = [{"input_ids": e.input_ids, "attention_mask": [1] * len(e), "labels": e.input_ids} for e in examples]
    torch.manual_seed(HP["seed"])
    model = get_peft_model(load_causal_lm(ref), LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05,
                                                           target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    args = TrainingArguments(output_dir=str(work / "baseline"), per_device_train_batch_size=HP["micro_batch_size"],
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
    return dt, losses[-1], sum(len(e) for e in examples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--n", type=int, default=200)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mixture = make_mixture(a.data_dir, a.n, work)
        base_s, base_loss, tokens = run_baseline(mixture, work)
        ours_s, ours_loss = run_safemix(mixture, work)
    figures = {
        "examples": a.n, "tokens": tokens,
        "safemix_tokens_per_s": round(tokens / ours_s, 1), "baseline_tokens_per_s": round(tokens / base_s, 1),
        "safemix_seconds": round(ours_s, 1), "baseline_seconds": round(base_s, 1),
        "ratio": round(base_s / ours_s, 2),
        "safemix_final_loss": ours_loss, "baseline_final_loss": base_loss,
        "note": "final losses differ by design: safemix averages over response tokens, the baseline over all tokens",
    }
    print(f"safemix  {figures['safemix_tokens_per_s']:>8} tok/s  ({ours_s:.1f} s)")
    print(f"baseline {figures['baseline_tokens_per_s']:>8} tok/s  ({base_s:.1f} s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""GPU figures: safemix's transformers backend (greedy and the paper preset, 4-beam) against the seed's
one-prompt-at-a-time ``model.generate`` (each leg timed on its second pass), and safemix's LoRA training
in bf16 mixed precision, on the built-in model's shape (SmolLM2-135M) and a 7B-class shape (LLaMA-7B's layers with SmolLM2's vocabulary).

The weights are random, built on the GPU and saved as a safetensors folder that safemix loads like any
local model: the GPU machine reaches no hub, no 7B weights are stored there, and the built-in model's
GGUF is larger than what travels to it. Throughput does not depend on the weights' values, but a random
model almost never stops early, so every answer runs to the token limit (an upper bound on the time a
trained model takes). Generation uses real prompts of the paper's eval sets; training uses GPTeacher.

Also estimated: the wall time of one sweep point of the paper's setup (configs/paper.yaml: 20,000 + k
examples x 4 epochs, every paper eval set and XSTest with 4-beam search, 128 new tokens), from the
measured rates: training tokens / training tokens/s + eval prompts x 128 / generation tokens/s.

Usage: python bench/gpu_point.py --data-dir DATA --tokenizer FOLDER [--shapes smollm2-135m,llama-7b]
The last printed line is one JSON object with the figures (also written to --out after each shape).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_throughput import baseline  # noqa: E402

from safemix.data import PAPER_SUITES, load_suite  # noqa: E402
from safemix.generate import get_decoding, load_backend  # noqa: E402
from safemix.generate.hf import HFBackend  # noqa: E402
from safemix.train import TrainConfig, train  # noqa: E402
from safemix.train.recipe import SFTRecipe  # noqa: E402

SHAPES = {  # LlamaConfig fields over the built-in model's config
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 head_dim=16),
    "smollm2-135m": {},
    "llama-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=32, head_dim=128, max_position_embeddings=4096, tie_word_embeddings=False),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def free_cached() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def build(shape: str, tokenizer: Path, folder: Path) -> tuple[int, float]:
    """A random-weight model folder of this shape (bf16 safetensors); (parameters, seconds)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    t = time.perf_counter()
    base = json.loads((tokenizer / "config.json").read_text())
    base.pop("architectures", None)
    cfg = LlamaConfig(**{**base, **SHAPES[shape]})
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    for f in TOKENIZER_FILES:
        if (tokenizer / f).is_file():
            shutil.copy(tokenizer / f, folder / f)
    n = sum(p.numel() for p in model.parameters())
    del model
    free_cached()
    return n, time.perf_counter() - t


def gen_figures(folder: Path, prompts: list, n_base: int, max_new: int, batch: int, n_params: int) -> dict:
    t = time.perf_counter()
    be, info, fmt = load_backend(str(folder), None, "alpaca", False)
    fig = {"load_s": round(time.perf_counter() - t, 1), "compute": info.get("compute")}
    texts = [fmt.render(p.prompt, p.input) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    be.generate(texts[:2], get_decoding("greedy", 4))  # CUDA start-up, kernels
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    for preset in ("greedy", "paper"):
        d = get_decoding(preset, max_new)
        # each leg runs twice and the second pass is timed: on the H200 the first pass over new cache
        # lengths cost ~3x per step (73 vs 19 ms at batch 1, 91 vs 25 at batch 64; bench/gpu_step.py)
        first = None
        for _ in range(2):
            sync()
            t = time.perf_counter()
            ours = {}
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                ours.update(zip(idx, be.generate([texts[i] for i in idx], d)))
            sync()
            wall = time.perf_counter() - t
            first = first or wall
        tokens = sum(c.output_tokens for c in ours.values())
        tps = tokens / wall
        fig[preset] = {"prompts": len(texts), "tokens": tokens, "wall_s": round(wall, 2), "tokens_per_s": round(tps, 1),
                       "first_pass_tokens_per_s": round(tokens / first, 1),
                       "s_per_prompt": round(wall / len(texts), 4),
                       "tflops": round(2 * n_params * tokens / wall / 1e12, 2)}
        if torch.cuda.is_available():
            fig[preset]["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2 ** 30, 1)
        for _ in range(2 if n_base else 0):
            sync()
            t = time.perf_counter()
            base_out, _, base_tokens = baseline(be.model, be.tok, texts[:n_base], d)
            sync()
            base_wall = time.perf_counter() - t
        if n_base:
            same = sum(base_out[i] == ours[i].text for i in range(n_base))
            base_tps = base_tokens / base_wall
            fig[preset].update({"baseline_prompts": n_base, "baseline_tokens_per_s": round(base_tps, 1),
                                "ratio": round(tps / base_tps, 2), "same_as_baseline": f"{same}/{n_base}"})
        print(f"  {preset}: {fig[preset]}", flush=True)
    del be
    free_cached()
    return fig


def train_figures(folder: Path, data_dir: str, work: Path, steps: int, micro: int, n_params: int) -> dict:
    cfg = TrainConfig(model=str(folder), method="lora", lora_r=8, lora_alpha=16, lora_target_modules=["q_proj", "v_proj"],
                      learning_rate=3e-4, batch_size=128, micro_batch_size=micro, max_steps=steps, cutoff_len=256,
                      train_on_inputs=True, bf16="true" if torch.cuda.is_available() else "false", progress=False,
                      save_every=10_000)
    out = work / "adapter"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    train(cfg, "gpteacher-roleplay", out, data_dir=data_dir, overwrite=True)
    wall = time.perf_counter() - t
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "tokens_per_s" in r]
    steady = rows[1:] or rows  # the first step pays for kernel selection
    tps = statistics.median(r["tokens_per_s"] for r in steady)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if torch.cuda.is_available() else None
    return {"steps": len(rows), "wall_s_with_setup": round(wall, 1), "tokens_per_s": round(tps, 1),
            "tokens_per_step": round(statistics.mean(r["tokens"] for r in rows)),
            "loss_first_last": [rows[0]["loss"], rows[-1]["loss"]],
            # 4 x parameters per token: the forward (2) and the backward to the activations (2); the frozen
            # base needs no weight gradients (LoRA's own are negligible)
            "tflops": round(4 * n_params * tps / 1e12, 1), "peak_gpu_gib": round(peak, 1) if peak else None}


def paper_point(fig: dict, data_dir: str, tokens_per_example: float) -> dict:
    """Wall of one paper sweep point from the measured rates (k = 0; answers at the 128-token limit)."""
    n_eval = sum(len(load_suite(s, data_dir).records) for s in [*(x.lower() for x in PAPER_SUITES), "xstest"])
    train_s = 4 * 20_000 * tokens_per_example / fig["train"]["tokens_per_s"]
    gen_s = n_eval * 128 / fig["generate"]["paper"]["tokens_per_s"]
    return {"eval_prompts": n_eval, "train_tokens_per_example": round(tokens_per_example, 1),
            "train_h": round(train_s / 3600, 2), "generate_paper_preset_min": round(gen_s / 60, 1),
            "point_h": round((train_s + gen_s) / 3600, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--tokenizer", required=True, help="the built-in model's folder (config and tokenizer files)")
    ap.add_argument("--shapes", default="smollm2-135m,llama-7b")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--baseline-prompts", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--train-steps", type=int, default=4, help="0 skips training")
    ap.add_argument("--cudnn-attention", action="store_true",
                    help="let generation use PyTorch's cuDNN attention (safemix keeps it off: it plans each new shape)")
    ap.add_argument("--train-cudnn-attention", action="store_true", help="the same for training")
    ap.add_argument("--micro-batch-size", type=int, default=16)
    ap.add_argument("--work", default="/tmp/safemix-gpu")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    work = Path(a.work)
    figures: dict = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                     "torch": torch.__version__, "cudnn_attention": a.cudnn_attention,
                     "train_cudnn_attention": a.train_cudnn_attention}
    HFBackend.cudnn_attention, SFTRecipe.cudnn_attention = a.cudnn_attention, a.train_cudnn_attention
    import transformers

    figures["transformers"] = transformers.__version__
    try:
        import vllm  # noqa: F401

        figures["vllm"] = vllm.__version__
    except ImportError:
        figures["vllm"] = None
    suites = [s for s in PAPER_SUITES if s != "I-Alpaca"]
    per = -(-a.prompts // len(suites))
    prompts = [p for s in suites for p in load_suite(s.lower(), a.data_dir).records[:per]][:a.prompts]
    for shape in a.shapes.split(","):
        print(f"{shape}:", flush=True)
        folder = work / shape
        fig: dict = {}
        try:
            n, fig["build_s"] = build(shape, Path(a.tokenizer), folder)
            fig["params"] = n
            fig["generate"] = gen_figures(folder, prompts, a.baseline_prompts, a.max_new_tokens, a.batch_size, n)
            if a.train_steps:
                if torch.cuda.is_available():
                    torch.cuda.reset_peak_memory_stats()
                fig["train"] = train_figures(folder, a.data_dir, work, a.train_steps, a.micro_batch_size, n)
                print(f"  train: {fig['train']}", flush=True)
                fig["paper_point_estimate"] = paper_point(fig, a.data_dir, fig["train"]["tokens_per_step"] / 128)
        except Exception as exc:  # keep the other shape's figures
            fig["error"] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"  error: {fig['error']}", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        figures[shape] = fig
        if a.out:
            Path(a.out).write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Where a greedy decoding step's time goes on a GPU: the model's forward alone, then with each piece of
safemix's loop added (argmax, reading the tokens, the stop check), and safemix's whole generate, at batch 1 and
64, 24 steps each, on a random-weight model of the built-in shape (see bench/gpu_point.py for why random).
Each configuration runs the same prompts, so the first one also shows what a first pass over new cache
lengths costs. Usage: python bench/gpu_step.py --data-dir DATA --tokenizer FOLDER; the last line is JSON."""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_point import build, sync  # noqa: E402

from safemix.data import load_suite  # noqa: E402
from safemix.generate import get_decoding, load_backend  # noqa: E402


def loop(be, texts: list[str], bsz: int, steps: int, pick: bool, isin: bool, tolist: bool, cachepos: bool) -> float:
    """ms per greedy step of a loop with the chosen pieces of safemix's step added to the forward."""
    dev = be.model.device.type
    eos = torch.tensor(sorted(be.eos_ids), device=dev)
    enc = be.tok(texts[:bsz], padding=True, return_tensors="pt").to(dev)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    with torch.inference_mode():
        cache, logits, mask = be._prefill(ids, mask)
        nxt = logits.argmax(-1)
        sync()
        t = time.perf_counter()
        for _ in range(steps):
            if pick:
                nxt = logits.argmax(-1)
            if tolist:
                nxt.tolist()
            if isin:
                len(torch.nonzero(~torch.isin(nxt, eos)).flatten())
            mask = torch.cat([mask, mask.new_ones((bsz, 1))], dim=1)
            kw = {"cache_position": torch.arange(mask.shape[1] - 1, mask.shape[1], device=dev)} if cachepos else {}
            out = be.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=mask.sum(1, keepdim=True) - 1,
                           past_key_values=cache, use_cache=True, **kw)
            logits = out.logits[:, -1, :].float()
        sync()
    return round((time.perf_counter() - t) / steps * 1000, 1)


VARIANTS = [("forward_only", (False, False, False, False)), ("forward_cachepos", (False, False, False, True)),
            ("plus_argmax", (True, False, False, False)), ("plus_argmax_tolist", (True, False, True, False)),
            ("plus_isin_nonzero", (True, True, False, False)), ("all", (True, True, True, False))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--tokenizer", required=True, help="the built-in model's folder (config and tokenizer files)")
    ap.add_argument("--shape", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--work", default="/tmp/safemix-gpu-step")
    a = ap.parse_args()
    build(a.shape, Path(a.tokenizer), Path(a.work))
    be, _, fmt = load_backend(a.work, None, "alpaca", False)
    texts = [fmt.render(p.prompt, p.input) for p in load_suite("q-harm", a.data_dir).records[:64]]
    res = {}
    loop(be, texts, 4, a.steps, True, True, True, False)
    for bsz in (1, 64):
        for name, flags in VARIANTS:
            res[f"b{bsz}_{name}_ms"] = loop(be, texts, bsz, a.steps, *flags)
        sync()
        t = time.perf_counter()
        be.generate(texts[:bsz], get_decoding("greedy", a.steps))
        sync()
        res[f"b{bsz}_safemix_generate_ms"] = round((time.perf_counter() - t) / a.steps * 1000, 1)
        print(res, flush=True)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

"""Generation throughput: safemix generate vs the seed repo's method.

Same model (smollm2-135m, Alpaca template), same 48 real prompts (8 from each of six paper eval
sets), same decoding. The baseline follows vinid/safety-tuned-llamas generation/generate_answers.py:
one prompt at a time, ``model.generate`` with a GenerationConfig, the whole sequence decoded and
split on "### Response:". safemix runs length-sorted, left-padded batches (48: one batch on this CPU)
with a length-grouped prompt pass; greedy/sampling drops finished rows from the KV cache, and beam
search (safemix's loop over transformers' selection helpers) drops finished prompts, runs the prompt
pass once per prompt and reorders only the cache rows whose beam changed. Measured for greedy and for the
paper preset (4-beam search). Outputs are compared prompt by prompt on the generated tokens; the
seed's split on "### Response:" also cuts answers in which the model writes that marker again
(counted as seed_split_truncated).

The two legs run interleaved (baseline, safemix, then safemix, baseline, ...) over ``--repeats``;
ratios are the median of the per-repeat ratios with their spread, so load that changes over time
does not bias them. Achieved GFLOP/s (2 x parameters per generated token) and its share of the
machine's measured fp32 matmul peak are reported too.

The opt-in bf16 mode (``--bf16 true``) runs as a third leg, interleaved with the other two: its
tokens/s, its ratio to the seed and to the exact (fp32) mode, the share of its answers identical to
the exact mode's, and the agreement check: refusal-clf's refusal rate (full + partial) on the exact
and the bf16 answers, with a paired bootstrap 95% CI of the difference (it should contain 0).

``--without LEVER`` (repeatable) adds one more interleaved leg: safemix with that lever off
(``shared-prefix``: the prompt pass runs the prefix every prompt shares once; ``length-groups``: the rest
of the prompts run in length groups; ``onednn``: linear layers through oneDNN rather than MKL,
models/cpu_matmul.py; ``packed-weights``: their weights packed into oneDNN's layout; ``decode-attention``:
a decoding step's attention as two batched products, models/decode_attention.py), so each lever is measured
like with like: safemix's speed over that leg, how many of its answers are the full safemix's, and its
roofline position (as for the bf16 leg and safemix's own).

Usage: python bench/generate_throughput.py [--data-dir ../shared/data] [--max-new-tokens 64] [--repeats 3]
       [--presets greedy paper] [--without shared-prefix] [--without length-groups] [--without onednn]
       [--without packed-weights] [--without decode-attention]
The last printed line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safemix.data import PAPER_SUITES, load_suite  # noqa: E402
from safemix.generate import get_decoding, load_backend  # noqa: E402
from safemix.models.cpu_memory import keep_freed_memory  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _legs import interleaved, machine_limits, roofline, spread, with_levers  # noqa: E402


def baseline(model, tok, prompts: list[str], d) -> tuple[list[str], list[str], int]:
    """(answers decoded from the new tokens, answers as the seed extracts them, token count)."""
    from transformers import GenerationConfig

    outs, seed_outs, tokens = [], [], 0
    for prompt in prompts:
        ids = tok(prompt, return_tensors="pt")["input_ids"].to(model.device)
        cfg = GenerationConfig(temperature=0.1, top_p=0.75, top_k=40, num_beams=d.num_beams,
                               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        with torch.no_grad():
            seq = model.generate(input_ids=ids, generation_config=cfg, max_new_tokens=d.max_new_tokens,
                                 return_dict_in_generate=True, output_scores=True).sequences[0]
        new = seq[ids.shape[1]:].tolist()
        n = next((i for i, t in enumerate(new) if t == tok.eos_token_id), len(new))
        tokens += n
        outs.append(tok.decode(new[:n], skip_special_tokens=True).strip())
        seed_outs.append(tok.decode(seq, skip_special_tokens=True).split("### Response:")[1].strip())
    return outs, seed_outs, tokens


LEVERS = {"shared-prefix": {"shared_prefix_min": 0}, "length-groups": {"prefill_waste": 0}, "onednn": {"cpu_onednn": False},
          "packed-weights": {"cpu_packed_weights": False}, "decode-attention": {"cpu_decode_attention": False}}


def without(backend, lever: str):
    """The same backend (same model object) with one lever off."""
    return with_levers(backend, **LEVERS[lever])


def leg_answers(legs: dict, name: str, n: int) -> tuple[list[str], list[float]]:
    """A safemix-style leg's answers (last repeat, in prompt order) and its tokens/s in each repeat."""
    _, res = legs[name][-1]
    tokens = sum(c.output_tokens for c in res.values())
    return [res[i].text for i in range(n)], [tokens / x[0] for x in legs[name]]


def same_count(a: list[str], b: list[str]) -> str:
    return f"{sum(x == y for x, y in zip(a, b))}/{len(a)}"


def leg_roofline(legs: dict, name: str, n_params: int, batch: int, limits: dict, weight_bytes: int = 4) -> dict:
    """A safemix-style leg's roofline position from its fastest repeat: flops 2 x parameters per generated token;
    bytes: every weight read once per decoding step of ``batch`` rows (``weight_bytes`` each: 2 in bf16)."""
    best = min(x[0] for x in legs[name])
    tokens = sum(c.output_tokens for c in legs[name][-1][1].values())
    return roofline(2 * n_params * tokens / best / 1e9, weight_bytes * n_params * tokens / batch / best / 1e9, limits)


def lever_figures(preset: str, levers: list[str], exact: list[str], legs: dict, place) -> dict:
    _, exact_tps = leg_answers(legs, "safemix", len(exact))
    out = {}
    for lever in levers:
        outs, tps = leg_answers(legs, f"without_{lever}", len(exact))
        out[f"{preset}_without_{lever}"] = {"tokens_per_s": round(statistics.median(tps), 1),
                                            "safemix_over_it": spread([e / w for e, w in zip(exact_tps, tps)]),
                                            "same_answers": same_count(exact, outs),
                                            "roofline": place(f"without_{lever}")}
    return out


def bf16_figures(preset: str, prompts, exact: list[str], legs: dict, base_tokens: int, data_dir: str, place) -> dict:
    """The opt-in bf16 leg: speed against the seed and the exact mode, identical answers, judged agreement."""
    from safemix.judge import get_judge
    from safemix.judge.base import COMPLIANCE
    from safemix.stats import bootstrap_ci

    fast_out, fast_tps = leg_answers(legs, "safemix_bf16", len(exact))
    _, exact_tps = leg_answers(legs, "safemix", len(exact))
    base_tps = [base_tokens / x[0] for x in legs["baseline"]]
    judge = get_judge("refusal-clf", data_dir=data_dir)
    refused = {name: [float(v.label != COMPLIANCE) for v in judge.judge([(p.prompt, o) for p, o in zip(prompts, outs)])]
               for name, outs in (("exact", exact), ("bf16", fast_out))}
    lo, hi = bootstrap_ci([b - e for b, e in zip(refused["bf16"], refused["exact"])])
    return {
        f"{preset}_bf16_tokens_per_s": round(statistics.median(fast_tps), 1),
        f"ratio_{preset}_bf16": spread([f / b for f, b in zip(fast_tps, base_tps)]),
        f"{preset}_bf16_over_exact": spread([f / e for f, e in zip(fast_tps, exact_tps)]),
        f"{preset}_bf16_same_as_exact": same_count(exact, fast_out),
        # bf16 weights (2 bytes); the share of peak is of the fp32 peak (bf16 products can pass it)
        f"{preset}_bf16_roofline": place("safemix_bf16", weight_bytes=2),
        f"{preset}_bf16_refusal_rate": {"exact": round(statistics.mean(refused["exact"]), 3),
                                         "bf16": round(statistics.mean(refused["bf16"]), 3),
                                         "difference_ci95": [round(lo, 3), round(hi, 3)], "within_ci": lo <= 0 <= hi},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each leg (A B, B A, ...)")
    ap.add_argument("--presets", nargs="+", choices=("greedy", "paper"), default=["greedy", "paper"])
    ap.add_argument("--without", action="append", choices=sorted(LEVERS), default=[],
                    help="also time safemix with this lever off (repeatable)")
    a = ap.parse_args()
    keep_freed_memory()  # as the command line does (models/cpu_memory.py)
    suites = [s for s in PAPER_SUITES if s != "I-Alpaca"]
    prompts = [p for s in suites for p in load_suite(s.lower(), a.data_dir).records[:8]][:a.prompts]
    be, _, fmt = load_backend("smollm2-135m", None, "alpaca", False)
    be_bf16, bf16_info, _ = load_backend("smollm2-135m", None, "alpaca", False, bf16="true")
    assert bf16_info["compute"] == "cpu/bfloat16", bf16_info["compute"]
    texts = [fmt.render(p.prompt, p.input) for p in prompts]
    figures: dict = {"prompts": len(texts), "max_new_tokens": a.max_new_tokens, "batch_size": a.batch_size}
    same_all = True
    n_params = sum(p.numel() for p in be.model.parameters())
    limits = machine_limits()
    peak = limits["matmul_peak_gflops"]
    figures.update({"repeats": a.repeats, **limits, "params": n_params})
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for preset in a.presets:
        d = get_decoding(preset, a.max_new_tokens)

        def base_leg(_r):
            t = time.perf_counter()
            outs, seed_outs, tokens = baseline(be.model, be.tok, texts, d)
            return time.perf_counter() - t, outs, seed_outs, tokens

        def ours_leg(backend):
            def leg(_r):
                t = time.perf_counter()
                ours = {}
                for start in range(0, len(order), a.batch_size):
                    idx = order[start:start + a.batch_size]
                    for i, c in zip(idx, backend.generate([texts[i] for i in idx], d)):
                        ours[i] = c
                return time.perf_counter() - t, ours
            return leg

        legs = interleaved({"baseline": base_leg, "safemix": ours_leg(be), "safemix_bf16": ours_leg(be_bf16),
                            **{f"without_{x}": ours_leg(without(be, x)) for x in a.without}}, a.repeats)
        base_s, base_out, seed_out, base_tokens = legs["baseline"][-1]
        ours_s, ours = legs["safemix"][-1]
        our_out = [ours[i].text for i in range(len(texts))]
        our_tokens = sum(c.output_tokens for c in ours.values())
        ratios = [(our_tokens / o[0]) / (base_tokens / b[0]) for o, b in zip(legs["safemix"], legs["baseline"])]
        best_ours = min(o[0] for o in legs["safemix"])
        same = sum(x == y for x, y in zip(base_out, our_out))
        same_all &= same == len(texts)
        gflops = 2 * n_params * our_tokens / best_ours / 1e9  # forward flops per token ~ 2 x parameters
        # bytes: each decode step reads every fp32 weight once for its batch of rows (KV cache reads left out:
        # at 48-64 new tokens they are small beside 4 x params); the seed's loop is one row per step
        steps_ours = our_tokens / min(a.batch_size, len(texts))
        base_best = min(b[0] for b in legs["baseline"])
        figures.update({
            f"{preset}_safemix_tokens_per_s": round(our_tokens / statistics.median(o[0] for o in legs["safemix"]), 1),
            f"{preset}_baseline_tokens_per_s": round(base_tokens / statistics.median(b[0] for b in legs["baseline"]), 1),
            f"ratio_{preset}": spread(ratios),
            f"{preset}_safemix_gflops": round(gflops, 1), f"{preset}_share_of_peak": round(gflops / peak, 3),
            f"{preset}_roofline": {"safemix": roofline(gflops, 4 * n_params * steps_ours / best_ours / 1e9, limits),
                                   "baseline": roofline(2 * n_params * base_tokens / base_best / 1e9,
                                                        4 * n_params * base_tokens / base_best / 1e9, limits)},
            f"{preset}_same_outputs": f"{same}/{len(texts)}",
            # the seed keeps only the text between the first and second "### Response:"
            f"{preset}_seed_split_truncated": sum(x != y for x, y in zip(base_out, seed_out)),
        })
        def place(name: str, weight_bytes: int = 4) -> dict:
            return leg_roofline(legs, name, n_params, min(a.batch_size, len(texts)), limits, weight_bytes)
        figures.update(bf16_figures(preset, prompts, our_out, legs, base_tokens, a.data_dir, place))
        figures.update(lever_figures(preset, a.without, our_out, legs, place))
        print(f"{preset}: ratio median {figures[f'ratio_{preset}']['median']} (min {min(ratios):.2f}, max {max(ratios):.2f}), "
              f"same outputs {same}/{len(texts)}", flush=True)
    figures["same_outputs"] = same_all
    import json

    print(json.dumps(figures))


if __name__ == "__main__":
    main()

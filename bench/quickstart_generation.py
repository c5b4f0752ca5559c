"""The quickstart's generation, as the run does it, placed on the roofline.

One point's answers of ``configs/quickstart.yaml`` (its suites, limits and jailbreak attack: 580 prompts, greedy,
48 new tokens) from the base model (a trained point's adapter is merged, so it costs the same), through
``safemix.generate.generate``. Two interleaved legs:

- ``now``: the config's batches (every suite's prompts in one length-sorted queue, batches of at most its
  ``batch_size``), finished rows kept until more than ``HFBackend.finished_rows_kept`` of the batch has
  finished, the KV cache growing in place;
- ``plain_kernels``: ``now``'s batches, with PyTorch's attention kernel at each decoding step and the weights as
  they are (``HFBackend.cpu_decode_attention`` and ``cpu_packed_weights`` off);
- ``before``: each suite on its own in batches of at most 60, each finished row dropped at once from
  transformers' cache, PyTorch's attention kernel, weights as they are (the quickstart's generation before
  these levers).

The process keeps freed memory for large tensors as the command line does (``models/cpu_memory.py``) unless
``--no-keep-freed-memory``, which measures every leg without it (a process-wide setting: compare two runs).

Each leg's generated tokens/s, GFLOP/s (2 x parameters per generated token) and roofline position against the
same run's limits (bytes: every fp32 weight read once per decoding step; steps: each batch's longest answer),
the ratios now/before and now/plain_kernels (medians of the per-repeat ratios), and how many answers of the
other legs are ``now``'s.

Usage: python bench/quickstart_generation.py [--config configs/quickstart.yaml] [--repeats 2] [--no-keep-freed-memory]
The last printed line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safemix.config import load_run_config  # noqa: E402
from safemix.generate import generate, get_decoding, load_backend  # noqa: E402
from safemix.models.cpu_memory import keep_freed_memory  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _legs import interleaved, machine_limits, roofline, spread, with_levers  # noqa: E402


class Steps:
    """Wraps a backend: counts generated tokens and decoding steps (each batch's longest answer)."""

    def __init__(self, inner):
        self.inner, self.tok, self.tokens, self.steps = inner, inner.tok, 0, 0

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)

    def generate(self, prompts, d):
        out = self.inner.generate(prompts, d)
        self.tokens += sum(c.output_tokens for c in out)
        self.steps += max(c.output_tokens for c in out)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-keep-freed-memory", action="store_true")
    a = ap.parse_args()
    kept = False if a.no_keep_freed_memory else keep_freed_memory()
    cfg = load_run_config(a.config)
    g = cfg.generate
    d = get_decoding(g.preset, g.max_new_tokens)
    be, info, fmt = load_backend(cfg.model, None, cfg.train.prompt_format, False)
    n_params = sum(p.numel() for p in be.model.parameters())
    limits = machine_limits()
    kw = dict(decoding=d, limit_per_suite=g.limit_per_suite, attacks=g.attacks, attack_suites=g.attack_suites,
              data_dir=a.data_dir)
    answers: dict = {}

    plain = dict(cpu_decode_attention=False, cpu_packed_weights=False)
    others = {"plain_kernels": with_levers(be, **plain),
              "before": with_levers(be, finished_rows_kept=0.0, growing_cache=False, **plain)}

    def leg(name: str):
        def run(r: int):
            wrapped = Steps(be if name == "now" else others[name])
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                if name != "before":
                    paths = generate(g.suites, tmp, batch_size=g.batch_size, _backend=(wrapped, info, fmt), **kw)
                else:
                    paths = {}
                    for suite in g.suites:  # one suite at a time (with its attacked copy, filed apart)
                        attacked = [x for x in g.attack_suites or [] if x == suite]
                        one = dict(kw, attacks=g.attacks if attacked else [], attack_suites=attacked or None)
                        paths.update(generate([suite], Path(tmp) / suite, batch_size=60,
                                              _backend=(wrapped, info, fmt), **one))
                dt = time.perf_counter() - t
                answers[name] = {s: [json.loads(x)["output"] for x in Path(p).read_text().splitlines()]
                                 for s, p in paths.items()}
            return dt, wrapped.tokens, wrapped.steps
        return run

    legs = interleaved({"before": leg("before"), "plain_kernels": leg("plain_kernels"), "now": leg("now")}, a.repeats)
    figures: dict = {"config": Path(a.config).name, "prompts": sum(map(len, answers["now"].values())),
                     "batch_size": g.batch_size, "max_new_tokens": g.max_new_tokens, "repeats": a.repeats,
                     "keep_freed_memory": kept, **limits, "params": n_params}
    for name, runs in legs.items():
        best, tokens, steps = min(runs)
        gflops = 2 * n_params * tokens / best / 1e9
        figures[name] = {"tokens_per_s": round(tokens / statistics.median(x[0] for x in runs), 1), "tokens": tokens,
                         "steps": steps, "seconds": [round(x[0], 1) for x in runs],
                         "roofline": roofline(gflops, 4 * n_params * steps / best / 1e9, limits)}
    for other in ("before", "plain_kernels"):
        figures[f"now_over_{other}"] = spread([(n[1] / n[0]) / (b[1] / b[0]) for n, b in zip(legs["now"], legs[other])])
        same = [x == y for s in answers["now"] for x, y in zip(answers["now"][s], answers[other].get(s, []))]
        figures[f"same_answers_{other}"] = f"{sum(same)}/{figures['prompts']}"
    print(f"now {figures['now']['tokens_per_s']} tok/s ({figures['now']['roofline']['share_of_peak']} of peak), "
          f"plain kernels {figures['plain_kernels']['tokens_per_s']}, before {figures['before']['tokens_per_s']} tok/s; "
          f"same answers {figures['same_answers_plain_kernels']} and {figures['same_answers_before']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""How the cost of a sweep grows: the pipeline (``safemix run``) timed as N, the prompts and the
points grow 2x and 4x, one factor at a time, each in a fresh run folder (the model conversion and
the refusal judge's training are cached before the first timing).

Base: smollm2-135m + LoRA, N=16 general examples, k in {0, 8} (2 points), 6 prompts per suite half
(Q-Harm and both XSTest halves: 18 prompts per point), greedy, 16 new tokens, the two offline
refusal judges. Each stage's time is what its steps recorded (``timing.json``): per run, the seconds
per stage summed over the points, and for each factor the growth at 2x and 4x, total and per stage
(1.0 = constant, 2.0 / 4.0 = linear). Fixed costs (loading the model in each step) make small
runs grow slower than linear; a factor that grows faster than linear is the one to look at.

Usage: python bench/sweep_scaling.py [--data-dir ../shared/data] [--base-n 16] [--base-prompts 6]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

CONFIG = """name: scaling
model: smollm2-135m
seeds: [1]
data: {{general: gpteacher-roleplay, n_general: {n}, safety: safety-tuned-llamas, k: {ks}, data_dir: "{data}"}}
train: {{batch_size: 4, micro_batch_size: 4, epochs: 1, cutoff_len: 128, learning_rate: 1.0e-3, progress: false}}
generate: {{suites: [q-harm, xstest], limit_per_suite: {{Q-Harm: {p}, xstest-safe: {p}, xstest-unsafe: {p}}}, preset: greedy, max_new_tokens: 16, batch_size: 64}}
judges: [xstest-strmatch, refusal-clf]
"""


def timed_run(folder: Path, data: str, n: int, ks: list[int], p: int) -> dict:
    from safemix.run import run

    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "scaling.yaml"
    cfg.write_text(CONFIG.format(n=n, ks=json.dumps(ks), p=p, data=data))
    t = time.perf_counter()
    run(cfg, folder / "run", progress=False)
    wall = time.perf_counter() - t
    stages: dict[str, float] = {}
    for f in (folder / "run").glob("*/*/timing.json"):
        rec = json.loads(f.read_text())
        stages[rec["stage"]] = round(stages.get(rec["stage"], 0.0) + rec["seconds"], 2)
    return {"n": n, "points": len(ks), "prompts_per_point": 3 * p, "wall_s": round(wall, 1), "stages_s": stages}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("SAFEMIX_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--base-n", type=int, default=16)
    ap.add_argument("--base-prompts", type=int, default=6, help="prompts per suite half at 1x")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="safemix-scaling-"))
    os.environ.setdefault("SAFEMIX_CACHE_DIR", str(root / "cache"))
    n, p, ks = a.base_n, a.base_prompts, [0, 8]
    timed_run(root / "warm", a.data_dir, 8, [0], 2)  # converts the model, trains the refusal judge: not timed
    plan = {"base": (n, ks, p),
            "N x2": (2 * n, ks, p), "N x4": (4 * n, ks, p),
            "prompts x2": (n, ks, 2 * p), "prompts x4": (n, ks, 4 * p),
            "points x2": (n, [0, 8, 16, 24], p), "points x4": (n, [0, 8, 16, 24, 32, 40, 48, 56], p)}
    runs = {}
    for name, (nn, kk, pp) in plan.items():
        runs[name] = timed_run(root / name.replace(" ", ""), a.data_dir, nn, kk, pp)
        print(f"{name:<11} N={nn:<4} points={len(kk)} prompts/point={3 * pp:<4} wall {runs[name]['wall_s']:>7.1f} s  "
              + "  ".join(f"{s} {v:.1f}" for s, v in runs[name]["stages_s"].items()), flush=True)
    base = runs["base"]
    growth = {}
    for factor in ("N", "prompts", "points"):
        for x in (2, 4):
            r = runs[f"{factor} x{x}"]
            growth[f"{factor} x{x}"] = {"wall": round(r["wall_s"] / base["wall_s"], 2),
                                        **{s: round(v / base["stages_s"][s], 2) for s, v in r["stages_s"].items()
                                           if base["stages_s"].get(s)}}
            print(f"growth {factor} x{x}: " + "  ".join(f"{s} {g:.2f}" for s, g in growth[f'{factor} x{x}'].items()))
    print(json.dumps({"runs": runs, "growth": growth, "machine": f"{os.cpu_count()} CPU cores"}))


if __name__ == "__main__":
    main()

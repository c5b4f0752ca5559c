"""The GPU check, ready for the first GPU lent: the paper config's smoke run (``safemix run --smoke``), once with
the transformers backend and once with vLLM, each step in its own process, with each step's time, its process's
peak CPU memory and peak GPU memory, generation's tokens/s, and the smoke's projection of the full sweep.

It has not run yet: no GPU has been lent to this project's checks. What it would confirm: that each step gives its
GPU memory back (``isolate``, default on with a GPU), that vLLM's engine starts with the configured
``gpu_memory_utilization``, attaches each point's LoRA adapter and is shut down at its step's end, that the memory
plan's estimates are near the measured GPU peaks, and how far the smoke's projection is from a full point.

The GPU machine reaches no hub: ``--model`` takes a local model folder (e.g. random 7B-shaped weights made by
``bench/gpu_point.py``) in place of the config's Hub model, and ``--data-dir`` the data folder.

Usage: python bench/gpu_check.py --data-dir DATA --model FOLDER [--config configs/paper.yaml] [--out gpu_check.json]
The last printed line is one JSON object with the figures (also written to --out).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def leg(config: dict, backend: str, folder: Path, data_dir: str) -> dict:
    cfg = dict(config, name=f"gpu-check-{backend}", generate={**config.get("generate", {}), "backend": backend})
    if backend == "hf":
        cfg["generate"].pop("vllm", None)
    path = folder / f"{backend}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = folder / f"run-{backend}"
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "safemix", "run", str(path), "--smoke", "--out", str(out),
                           "--data-dir", data_dir], capture_output=True, text=True)
    smoke = out.with_name(out.name + "-smoke")
    result = {"backend": backend, "exit": proc.returncode, "seconds": round(time.time() - t0, 1),
              "error": proc.stderr.strip().splitlines()[-1] if proc.returncode else None}
    try:
        rec = json.loads((smoke / "run.json").read_text())
        result["steps"] = rec["step_times"]
        result["projection"] = json.loads((smoke / "projection.json").read_text())
    except (OSError, ValueError, KeyError):
        pass
    answers, gen_seconds = 0, 0.0
    for t in result.get("steps", []):
        if t["stage"] == "generate":
            gen_seconds += t["seconds"]
    for f in (smoke / "generate").glob("*/*.jsonl"):
        answers += sum(json.loads(line).get("output_tokens", 0) for line in f.read_text().splitlines() if line.strip())
    result["generate_tokens_per_s"] = round(answers / gen_seconds, 1) if gen_seconds else None
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/paper.yaml")
    ap.add_argument("--model", required=True, help="a local model folder in place of the config's Hub model")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", default="gpu_check.json")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU here: this check is for a GPU machine")
    config = yaml.safe_load(Path(args.config).read_text())
    config["model"] = args.model
    config.pop("executor", None)  # the smoke runs locally, each step in its own process
    figures = {"device": torch.cuda.get_device_name(0), "config": args.config, "legs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("hf", "vllm"):
            figures["legs"].append(leg(config, backend, Path(tmp), args.data_dir))
            Path(args.out).write_text(json.dumps(figures, indent=1))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

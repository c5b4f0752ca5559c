"""Plan a sweep as stages with content-derived keys, so a changed config re-runs only what changed.

mixture(k, seed) -> train(k, seed) -> generate(k, seed) -> judge(k, seed) -> report
                                 |                   `-> quality(k, seed)      (optional)
                                 `-> capability(k, seed)                       (optional)
Each step's output lives in ``RUN_DIR/<stage>/<key>``; the key hashes everything the step depends on
(its own config section and its parent's key), and a step is done when its marker file exists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RunConfig
from ..markers import DONE

MARKERS = {"mixture": "k{k}.manifest.json", "train": "manifest.json", "generate": DONE, "judge": DONE,
           "capability": "capability.json", "quality": DONE}


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class Step:
    stage: str
    k: int
    seed: int
    key: str
    path: Path
    parent: "Step | None" = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return (self.path / MARKERS[self.stage].format(k=self.k)).is_file()

    @property
    def point(self) -> str:
        return f"k={self.k} seed={self.seed}"


def plan(cfg: RunConfig, run_dir: Path, only: dict | None = None) -> list[Step]:
    """Every step of the sweep in execution order (point by point)."""
    steps: list[Step] = []
    d = cfg.data.model_dump(exclude={"k", "data_dir", "allow_unpinned", "leakage"})  # what the mixture depends on
    for seed in cfg.seeds:
        for k in cfg.data.k:
            if only and (only.get("k", k) != k or only.get("seed", seed) != seed):
                continue
            mk = _key("mixture", d, k, seed)
            mixture = Step("mixture", k, seed, mk, run_dir / "mixtures" / mk)
            tk = _key("train", mk, cfg.train.model_dump(exclude={"progress", "save_every"}), seed)
            train = Step("train", k, seed, tk, run_dir / "train" / tk, mixture)
            gk = _key("generate", tk, cfg.generate.model_dump())
            gen = Step("generate", k, seed, gk, run_dir / "generate" / gk, train)
            jk = _key("judge", gk, judge_keys(cfg.judges, **cfg.judge_options.given()))
            steps += [mixture, train, gen, Step("judge", k, seed, jk, run_dir / "judge" / jk, gen)]
            if cfg.capability:
                ck = _key("capability", tk, cfg.capability.model_dump(), _local_digests(cfg.capability.tasks))
                steps.append(Step("capability", k, seed, ck, run_dir / "capability" / ck, train))
            if cfg.quality:
                qk = _key("quality", gk, cfg.quality.model_dump(exclude={"baseline_k"}),
                          judge_keys([cfg.quality.judge], judge_model=cfg.quality.judge_model))
                steps.append(Step("quality", k, seed, qk, run_dir / "quality" / qk, gen))
    return steps


def judge_keys(names: list[str], **kwargs) -> list[str]:
    """Judges by id@version, so a judge whose implementation changed re-runs its step."""
    from ..judge import get_judges

    return sorted(j.key for j in get_judges(names, **kwargs))


def _local_digests(tasks: list[str]) -> dict[str, str]:
    """Content hashes of local task files, so an edited file re-runs its evaluation."""
    from ..capability.tasks import parse_tasks
    from ..fileio import sha256_file

    return {s.name: sha256_file(s.path) for s in parse_tasks(tasks) if s.local and s.path.is_file()}


def parse_only(text: str | None) -> dict | None:
    """``k=100`` or ``k=100,seed=2`` -> {"k": 100, "seed": 2}."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in ("k", "seed") or not value.strip().lstrip("-").isdigit():
            from ..errors import SafemixError

            raise SafemixError(f"--only takes k=N and/or seed=N, got '{text}'")
        out[name.strip()] = int(value)
    return out

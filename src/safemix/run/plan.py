"""Plan a sweep as stages with content-derived keys, so a changed config re-runs only what changed.

mixture(k, seed) -> train(k, seed) -> generate(k, seed) -> judge(k, seed) -> report  (run/stages.py)
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
from .stages import STAGES, Stage, judge_keys  # noqa: F401  (judge_keys: re-exported)


def content_key(*parts) -> str:
    """A step folder's name: a short hash of everything its output depends on."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class Step:
    spec: Stage  # the stage this step runs
    k: int
    seed: int
    key: str
    path: Path
    parent: "Step | None" = field(default=None, repr=False)

    @property
    def stage(self) -> str:
        return self.spec.name

    @property
    def marker(self) -> str:
        """The file the stage writes last into ``path``."""
        return self.spec.marker.format(k=self.k)

    @property
    def done(self) -> bool:
        return (self.path / self.marker).is_file()

    @property
    def point(self) -> str:
        return f"k={self.k} seed={self.seed}"


def plan(cfg: RunConfig, run_dir: Path, only: dict | None = None) -> list[Step]:
    """Every step of the sweep in execution order (point by point, stages in registry order).
    ``only`` names a k and/or seed of the sweep; one that is not in it is an error."""
    for axis, values in (("k", cfg.data.k), ("seed", cfg.seeds)):
        if only and axis in only and only[axis] not in values:
            from ..errors import SafemixError

            raise SafemixError(f"--only {axis}={only[axis]}: not a {axis} of this sweep ({', '.join(map(str, values))})")
    steps: list[Step] = []
    for seed in cfg.seeds:
        for k in cfg.data.k:
            if only and (only.get("k", k) != k or only.get("seed", seed) != seed):
                continue
            made: dict[str, Step] = {}
            for name, stage in STAGES.items():
                if not stage.enabled(cfg):
                    continue
                parent = made[stage.parent] if stage.parent else None
                key = content_key(name, *((parent.key,) if parent else ()), *stage.key_parts(cfg, k, seed))
                made[name] = Step(stage, k, seed, key, run_dir / _FOLDERS.get(name, name) / key, parent)
                steps.append(made[name])
    return steps


_FOLDERS = {"mixture": "mixtures"}  # where each stage's steps live under the run folder (default: its name)


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

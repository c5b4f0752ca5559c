"""Plan a sweep as stages with content-derived keys, so a changed config re-runs only what changed.

mixture(k, seed) -> train(k, seed) -> generate(k, seed) -> judge(k, seed) -> report  (run/stages.py)
                                 |                   `-> quality(k, seed)      (optional)
                                 `-> capability(k, seed)                       (optional)
With a ``dpo:`` section each k > 0 also has a second arm (method ``sft+dpo``), whose chain starts at the
k=0 steps (the same steps: the two methods share their baseline):
mixture(0, seed) -> train(0, seed) -> pairs(k, seed) -> dpo(k, seed) -> generate -> judge, capability, quality
Each step's output lives in ``RUN_DIR/<stage>/<key>``; the key hashes everything the step depends on
(its own config section and its parent's key), and a step is done when its marker file exists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RunConfig
from .stages import SFT, SFT_DPO, STAGES, Stage, judge_keys  # noqa: F401  (judge_keys: re-exported)


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
    arm: str = SFT  # the method whose point this step belongs to (sft, or sft+dpo)

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
        return f"k={self.k} seed={self.seed}" + (f" {self.arm}" if self.arm != SFT else "")


def execute(step: Step, cfg: RunConfig, progress: bool = False) -> None:
    """Run one step: its stage gets a context holding only the config fields it declares (run/stages.py)."""
    grandparent = step.parent.parent.path if step.parent and step.parent.parent else None
    step.spec.run(step.spec.context(cfg, step.path, step.parent.path if step.parent else None, step.k, step.seed,
                                    progress, grandparent))


def arms(cfg: RunConfig, k: int) -> list[str]:
    """The methods a point (k, seed) is trained with: SFT on the mixture, and with a ``dpo:`` section, for k > 0,
    SFT on the general data then DPO on k pairs."""
    return [SFT] + ([SFT_DPO] if cfg.dpo is not None and k > 0 else [])


def plan(cfg: RunConfig, run_dir: Path, only: dict | None = None) -> list[Step]:
    """Every step of the sweep in execution order (point by point, stages in registry order).
    ``only`` names a k and/or seed of the sweep; one that is not in it is an error."""
    for axis, values in (("k", cfg.data.k), ("seed", cfg.seeds)):
        if only and axis in only and only[axis] not in values:
            from ..errors import SafemixError

            raise SafemixError(f"--only {axis}={only[axis]}: not a {axis} of this sweep ({', '.join(map(str, values))})")
    steps: list[Step] = []
    by_path: dict[Path, Step] = {}
    for seed in cfg.seeds:
        for k in cfg.data.k:
            if only and (only.get("k", k) != k or only.get("seed", seed) != seed):
                continue
            for arm in arms(cfg, k):
                made: dict[str, Step] = {}
                for name, stage in STAGES.items():
                    if not stage.enabled(cfg) or arm not in stage.arms:
                        continue
                    # the DPO arm starts from the k=0 model: its mixture and training are the SFT arm's k=0 steps
                    at = 0 if arm != SFT and name in _SHARED else k
                    parent = made[stage.parent] if stage.parent else None
                    key = content_key(name, *((parent.key,) if parent else ()), *stage.key_parts(cfg, at, seed))
                    path = run_dir / _FOLDERS.get(name, name) / key
                    if path not in by_path:  # a step two points share is planned once
                        by_path[path] = Step(stage, at, seed, key, path, parent, SFT if name in _SHARED else arm)
                        steps.append(by_path[path])
                    made[name] = by_path[path]
                    if stage.stands_for:
                        made[stage.stands_for] = made[name]
    return steps


_SHARED = ("mixture", "train")  # the stages every arm's chain shares at k=0


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

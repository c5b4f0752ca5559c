"""The sweep's stages: one class each, registered in order in :data:`STAGES`.

A stage says which stage's output it reads (``parent``), whether the config enables it, what its
key hashes besides its parent's key (``key_parts``), which file marks its output finished
(``marker``, written by the stage itself, last) and how to ``run`` one step. ``plan()`` and the
executors only go through this protocol, so adding a stage is one class here plus its test.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from ..artifacts import CAPABILITY, MIXTURE_MANIFEST, TRAIN_MANIFEST, mixture_file
from ..data.resolve import ENV_DATA_DIR
from ..markers import DONE

if TYPE_CHECKING:
    from ..config import RunConfig
    from .plan import Step


def data_dir(cfg: RunConfig):
    return cfg.data.data_dir or os.environ.get(ENV_DATA_DIR)


class Stage:
    name: ClassVar[str]
    parent: ClassVar[str | None] = None
    marker: ClassVar[str] = DONE

    def enabled(self, cfg: RunConfig) -> bool:
        return True

    def key_parts(self, cfg: RunConfig, k: int, seed: int) -> tuple:
        """What the step's output depends on besides its parent's key."""
        raise NotImplementedError

    def run(self, step: Step, cfg: RunConfig, progress: bool = False) -> None:
        raise NotImplementedError


class MixtureStage(Stage):
    name, marker = "mixture", MIXTURE_MANIFEST

    def key_parts(self, cfg, k, seed):
        return (cfg.data.model_dump(exclude={"k", "data_dir", "allow_unpinned", "leakage"}), k, seed)

    def run(self, step, cfg, progress=False):
        from ..data.load import load_instructions
        from ..data.mix import leakage_summary, mix, write_mixtures

        dd, au = data_dir(cfg), cfg.data.allow_unpinned
        g, s = load_instructions(cfg.data.general, dd, au), load_instructions(cfg.data.safety, dd, au)
        mixtures = mix(g, s, cfg.data.n_general, [step.k], step.seed, cfg.data.strategy)
        extra = {}
        if cfg.data.leakage != "off":  # against the suites this run evaluates on
            extra["leakage"] = leakage_summary(mixtures[0].records, cfg.generate.suites, cfg.data.leakage, dd)
        write_mixtures(mixtures, step.path, extra)


class TrainStage(Stage):
    name, parent, marker = "train", "mixture", TRAIN_MANIFEST

    def key_parts(self, cfg, k, seed):
        return (cfg.train.result_fields(), seed)

    def run(self, step, cfg, progress=False):
        from ..train import train

        tcfg = cfg.train.model_copy(update={"model": cfg.model, "seed": step.seed,
                                            "progress": cfg.train.progress and progress})
        train(tcfg, mixture_file(step.parent.path, step.k), step.path, resume=True)


class GenerateStage(Stage):
    name, parent = "generate", "train"

    def key_parts(self, cfg, k, seed):
        # bf16 joined the section later: left at auto it is not part of the key (earlier runs resume)
        return (cfg.generate.model_dump(exclude={"bf16"} if cfg.generate.bf16 == "auto" else None),)

    def run(self, step, cfg, progress=False):
        from ..generate import generate, get_decoding

        g = cfg.generate
        generate(g.suites, step.path, get_decoding(g.preset, g.max_new_tokens, step.seed), adapter=step.parent.path,
                 batch_size=g.batch_size, limit_per_suite=g.limit_per_suite, seed=0, backend=g.backend,
                 bf16=g.bf16, data_dir=data_dir(cfg), progress=f"generate {step.point}" if progress else None)


class JudgeStage(Stage):
    name, parent = "judge", "generate"

    def key_parts(self, cfg, k, seed):
        if not cfg.budget:
            return (judge_keys(cfg.judges, **cfg.judge_options.given()),)
        return (judge_keys(cfg.judges + [cfg.budget.judge], **cfg.judge_options.given()), cfg.budget.model_dump())

    def run(self, step, cfg, progress=False):
        from ..judge import judge
        from ..judge.budget import budget_sample

        names, subsets = list(cfg.judges), None
        if cfg.budget:
            b = cfg.budget
            names.append(b.judge)
            subsets = {b.judge: lambda suite, ids: budget_sample(ids, b.fraction, b.seed, f"{step.k}/{step.seed}/{suite}")}
        judge(names, step.parent.path, step.path, judge_kwargs={"data_dir": data_dir(cfg), **cfg.judge_options.given()},
              subsets=subsets)


class CapabilityStage(Stage):
    name, parent, marker = "capability", "train", CAPABILITY

    def enabled(self, cfg):
        return cfg.capability is not None

    def key_parts(self, cfg, k, seed):
        return (cfg.capability.model_dump(), _local_digests(cfg.capability.tasks))

    def run(self, step, cfg, progress=False):
        from ..capability import evaluate_capability

        c = cfg.capability
        evaluate_capability(c.tasks, step.path / self.marker, adapter=step.parent.path, num_fewshot=c.num_fewshot,
                            limit=c.limit, batch_size=c.batch_size)


class QualityStage(Stage):
    name, parent = "quality", "generate"

    def enabled(self, cfg):
        return cfg.quality is not None

    def key_parts(self, cfg, k, seed):
        q = cfg.quality
        return (q.model_dump(exclude={"baseline_k"}), judge_keys([q.judge], judge_model=q.judge_model))

    def run(self, step, cfg, progress=False):
        from ..judge import judge

        q = cfg.quality
        judge([q.judge], step.parent.path, step.path, judge_kwargs={"data_dir": data_dir(cfg), "judge_model": q.judge_model},
              suites=[q.suite])


STAGES: dict[str, Stage] = {s.name: s for s in (MixtureStage(), TrainStage(), GenerateStage(), JudgeStage(),
                                                 CapabilityStage(), QualityStage())}


def judge_keys(names: list[str], **kwargs) -> list[str]:
    """Judges by id@version, so a judge whose implementation changed re-runs its step."""
    from ..judge import get_judges

    return sorted(j.key for j in get_judges(names, **kwargs))


def _local_digests(tasks: list[str]) -> dict[str, str]:
    """Content hashes of local task files, so an edited file re-runs its evaluation."""
    from ..capability.tasks import parse_tasks
    from ..fileio import sha256_file

    return {s.name: sha256_file(s.path) for s in parse_tasks(tasks) if s.local and s.path.is_file()}


__all__ = ["STAGES", "Stage", "data_dir", "judge_keys"]

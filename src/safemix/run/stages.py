"""The sweep's stages: one class each, registered in order in :data:`STAGES`.

A stage says which stage's output it reads (``parent``), whether the config enables it, which
config fields decide its output (``reads``: all of them go into its key) and which it reads only to
find its inputs (``unkeyed``), what its key hashes besides its parent's key (``key_parts``), which
file marks its output finished (``marker``, written by the stage itself, last) and how to ``run`` one
step. ``run`` is handed a :class:`StageContext` -- the step's folder, its parent step's output, k, seed, the
data folder and a :class:`ConfigView` that holds only the declared fields -- never the whole run config, so
a stage cannot read a field its key does not cover without failing; tests/run/test_keys.py walks the
config schema and checks that changing each field changes exactly the keys of the stages that read it.
``plan()``, the runner and the executors only go through this protocol (a planned step carries its
stage). The protocol and the registry are ``safemix/stage.py``; a plug-in stage registers there from its own
module.
"""

from __future__ import annotations

from pathlib import Path

from ..artifacts import CAPABILITY, MIXTURE_MANIFEST, TRAIN_MANIFEST, mixture_file
from ..config import JudgeOptions
from ..generate.attacks import get_attack
from ..models.families import lora_targets
from ..models.load import fingerprint
from ..plugins import keyed
from ..secrets import redact
from ..stage import SFT, SFT_DPO, STAGES, ConfigView, Stage, StageContext, UndeclaredRead, data_dir, register_stage
from ..train.config import TrainConfig

# judge options that bound waiting or batching, never the verdicts (each judge's options model says which):
# left out of the judge step's key
RUNTIME_OPTIONS = tuple(sorted(JudgeOptions.unkeyed))


def local_file_digests(specs: list[str]) -> dict[str, str]:
    """sha256 of the data specs that are files on disk (registry names are pinned by their sha256;
    ``hf:`` specs by their revision), so an edited file re-runs the steps that read it."""
    from ..data.registry import REGISTRY
    from ..fileio import sha256_file

    out = {}
    for spec in specs:
        path = Path(str(spec).split("?", 1)[0]).expanduser()
        if str(spec).lower() not in REGISTRY and path.is_file():
            out[str(spec)] = sha256_file(path)
    return out


class MixtureStage(Stage):
    name, marker = "mixture", MIXTURE_MANIFEST
    reads = ("data.general", "data.n_general", "data.safety", "data.strategy")
    # data_dir / allow_unpinned: where the (sha256-checked) sets are found; leakage: a warning written
    # beside the records, computed against the suites to evaluate, and never changing them
    unkeyed = ("data.data_dir", "data.allow_unpinned", "data.leakage", "generate.suites")

    def key_parts(self, cfg, k, seed):
        files = local_file_digests([cfg.data.general, cfg.data.safety])
        return (cfg.data.model_dump(include={"general", "n_general", "safety", "strategy"}), k, seed,
                *((files,) if files else ()))

    def run(self, ctx):
        from ..data.load import load_instructions
        from ..data.mix import leakage_summary, mix, write_mixtures

        d, dd = ctx.config.data, ctx.data_dir
        g, s = load_instructions(d.general, dd, d.allow_unpinned), load_instructions(d.safety, dd, d.allow_unpinned)
        mixtures = mix(g, s, d.n_general, [ctx.k], ctx.seed, d.strategy)
        extra = {}
        if d.leakage != "off":  # against the suites this run evaluates on
            extra["leakage"] = leakage_summary(mixtures[0].records, ctx.config.generate.suites, d.leakage, dd)
        write_mixtures(mixtures, ctx.path, extra)


class TrainStage(Stage):
    name, parent, marker = "train", "mixture", TRAIN_MANIFEST
    reads = ("model", "train")
    # never change the weights; the DPO fields are the DPO stage's to set (a run config may not: config.py)
    unkeyed = tuple(f"train.{f}" for f in sorted(set(TrainConfig.unkeyed) | set(TrainConfig.DPO_FIELDS)))

    def key_parts(self, cfg, k, seed):
        # cfg.train.model is cfg.model (RunConfig sees to it); a local model folder adds its content hash
        local = Path(cfg.model).expanduser()
        model = (fingerprint(local),) if local.is_dir() else ()
        fields = cfg.train.result_fields()
        # no targets given: the family's default, as the training resolves them (a key that names them is the key
        # the same targets had when they were written out)
        fields["lora_target_modules"] = lora_targets(cfg.model, fields["lora_target_modules"], cfg.train.method != "full")
        return (fields, seed, *model)

    def run(self, ctx):
        from ..train import train

        cfg = ctx.config
        tcfg = cfg.train.model_copy(update={"model": cfg.model, "seed": ctx.seed,
                                            "progress": cfg.train.progress and ctx.progress})
        train(tcfg, mixture_file(ctx.parent, ctx.k), ctx.path, resume=True)


class PairsStage(Stage):
    """The k safety preference pairs of a DPO point (train/pairs.py); its parent is the k=0 SFT model."""
    name, parent, marker, arms = "pairs", "train", "pairs.json", (SFT_DPO,)
    reads = ("dpo.pairs", "dpo.max_new_tokens", "data.safety", "data.strategy")
    # where the sets are; leakage: a warning written beside the pairs, never changing them
    unkeyed = ("data.data_dir", "data.allow_unpinned", "data.leakage", "generate.suites")

    def enabled(self, cfg):
        return cfg.dpo is not None

    def key_parts(self, cfg, k, seed):
        files = local_file_digests([cfg.dpo.pairs, cfg.data.safety])
        return (cfg.dpo.model_dump(include={"pairs", "max_new_tokens"}), cfg.data.model_dump(include={"safety", "strategy"}),
                k, seed, *((files,) if files else ()))

    def run(self, ctx):
        from ..data.load import load_instructions, load_preferences
        from ..data.mix import leakage_summary
        from ..train.pairs import derive_pairs, draw_pairs, safety_demonstrations, write_pairs

        cfg, dd = ctx.config, ctx.data_dir
        manifest = {"k": ctx.k, "seed": ctx.seed, "source": cfg.dpo.pairs}
        if cfg.dpo.pairs == "derived":
            safety = load_instructions(cfg.data.safety, dd, cfg.data.allow_unpinned)
            demos = safety_demonstrations(safety.records, ctx.k, ctx.seed, cfg.data.strategy)
            answers = _answers(ctx.parent, demos, cfg.dpo.max_new_tokens)
            pairs = derive_pairs(demos, answers)
            manifest |= {"safety": safety.provenance(), "demonstrations": len(demos),
                         "rejected_from": str(ctx.parent), "max_new_tokens": cfg.dpo.max_new_tokens}
        else:
            loaded = load_preferences(cfg.dpo.pairs, dd)
            pairs = draw_pairs(loaded.records, ctx.k, ctx.seed)
            manifest |= {"preferences": loaded.provenance()}
        if cfg.data.leakage != "off":  # the pairs' prompts against the suites this run evaluates on
            manifest["leakage"] = leakage_summary(pairs, cfg.generate.suites, cfg.data.leakage, dd)
        write_pairs(ctx.path, pairs, manifest)


def _answers(adapter: Path, demos, max_new_tokens: int) -> list[str]:
    """The k=0 model's greedy answers to the demonstrations' instructions (the rejected side)."""
    from ..generate import get_decoding, load_backend

    be, _, fmt = load_backend(None, adapter, None, False)
    decoding = get_decoding("greedy", max_new_tokens)
    texts = [fmt.render(d.instruction, d.input) for d in demos]
    return [c.text for start in range(0, len(texts), 32) for c in be.generate(texts[start:start + 32], decoding)]


class DPOStage(Stage):
    """SFT, then DPO: the k pairs (parent) trained with DPO from the k=0 SFT model (grandparent: the policy's
    start and the reference)."""
    name, parent, marker, arms, stands_for = "dpo", "pairs", TRAIN_MANIFEST, (SFT_DPO,), "train"
    reads = ("model", "train", "dpo.beta", "dpo.learning_rate", "dpo.epochs")
    unkeyed = TrainStage.unkeyed

    def enabled(self, cfg):
        return cfg.dpo is not None

    def key_parts(self, cfg, k, seed):
        return (TrainStage().key_parts(cfg, k, seed), cfg.dpo.model_dump(include={"beta", "learning_rate", "epochs"}))

    def run(self, ctx):
        from ..train import train
        from ..train.pairs import PAIRS_FILE

        cfg = ctx.config
        tcfg = cfg.train.model_copy(update={
            "model": cfg.model, "seed": ctx.seed, "progress": cfg.train.progress and ctx.progress, "objective": "dpo",
            "reference": str(ctx.grandparent), "dpo_beta": cfg.dpo.beta, "learning_rate": cfg.dpo.learning_rate,
            "epochs": cfg.dpo.epochs, "max_steps": None})
        train(tcfg, ctx.parent / PAIRS_FILE, ctx.path, resume=True)


class GenerateStage(Stage):
    name, parent = "generate", "train"
    reads = ("generate",)
    unkeyed = ("data.data_dir",)

    def key_parts(self, cfg, k, seed):
        # bf16 joined the section later: left at auto it is not part of the key (earlier runs resume)
        files = local_file_digests(cfg.generate.suites)
        # folders written before each repeated prompt got its own answer held one answer twice and lost the other:
        # a config whose prompts repeat one gets a new key (others keep theirs, and resume)
        repeats = _repeated_suites(cfg)
        g = cfg.generate
        # fields that joined later stay out of the key at their defaults (unkeyed_at: earlier runs resume); an
        # attack's template is keyed by its text (a file: template may be edited)
        attacks = {a: attack_digest(a) for a in g.attacks}
        return (keyed(g), *((files,) if files else ()),
                *(({"one_answer_per_repeated_prompt": repeats},) if repeats else ()),
                *(({"attack_templates": attacks},) if attacks else ()))

    def run(self, ctx):
        from ..generate import generate, get_decoding

        g = ctx.config.generate
        try:
            generate(g.suites, ctx.path, get_decoding(g.preset, g.max_new_tokens, ctx.seed), adapter=ctx.parent,
                     model=ctx.model, prompt_format=ctx.prompt_format, attacks=g.attacks, attack_suites=g.attack_suites,
                     batch_size=g.batch_size, limit_per_suite=g.limit_per_suite, seed=0, backend=g.backend,
                     bf16=g.bf16, data_dir=ctx.data_dir, progress=f"generate {ctx.point}" if ctx.progress else None,
                     engine=g.vllm.engine() if g.vllm is not None else None)
        finally:
            if g.backend == "vllm":  # the engine's GPU memory goes back when its step ends
                from ..generate.vllm import release_engines

                release_engines()


def attack_digest(name: str) -> str:
    """An attack's template text, hashed: a step key covers what the attack sends (a file: template may be edited)."""
    import hashlib

    return hashlib.sha256(get_attack(name).template.encode()).hexdigest()[:16]


def _repeated_suites(cfg) -> list[str]:
    """The registered suites of the config whose records repeat a prompt (a fact of the pinned data set, in the
    registry: the key does not depend on whether the data folder is reachable when planning)."""
    from ..data.registry import REGISTRY, expand_suites

    return [s for s in expand_suites(cfg.generate.suites)
            if s.lower() in REGISTRY and REGISTRY[s.lower()].repeated_prompts]


class JudgeStage(Stage):
    name, parent = "judge", "generate"
    reads = ("judges", "judge_options", "budget")
    unkeyed = ("data.data_dir", *(f"judge_options.{o}" for o in RUNTIME_OPTIONS))

    def key_parts(self, cfg, k, seed):
        # the endpoint and the judge model decide the verdicts; credentials in a URI do not (and the run
        # folder's copy of the config has them removed: the key must be the same from either)
        options = {o: redact(v) if isinstance(v, str) else v for o, v in cfg.judge_options.given().items()
                   if o not in RUNTIME_OPTIONS}
        extra = (options,) if options else ()
        if not cfg.budget:
            return (judge_keys(cfg.judges, **cfg.judge_options.given()), *extra)
        return (judge_keys(cfg.judges + [cfg.budget.judge], **cfg.judge_options.given()), cfg.budget.model_dump(), *extra)

    def run(self, ctx):
        from ..judge import judge
        from ..judge.budget import budget_sample

        cfg = ctx.config
        names, subsets = list(cfg.judges), None
        if cfg.budget:
            b = cfg.budget
            names.append(b.judge)
            subsets = {b.judge: lambda suite, ids: budget_sample(ids, b.fraction, b.seed, f"{ctx.k}/{ctx.seed}/{suite}")}
        try:
            judge(names, ctx.parent, ctx.path, judge_kwargs={"data_dir": ctx.data_dir, **cfg.judge_options.given()},
                  subsets=subsets)
        finally:
            if getattr(cfg.judge_options, "backend", None) == "vllm":  # a guard's engine goes back with its step
                from ..generate.vllm import release_engines

                release_engines()


class CapabilityStage(Stage):
    name, parent, marker = "capability", "train", CAPABILITY
    reads = ("capability",)

    def enabled(self, cfg):
        return cfg.capability is not None

    def key_parts(self, cfg, k, seed):
        return (cfg.capability.model_dump(), _local_digests(cfg.capability.tasks))

    def run(self, ctx):
        from ..capability import evaluate_capability

        c = ctx.config.capability
        evaluate_capability(c.tasks, ctx.path / self.marker, adapter=ctx.parent, model=ctx.model, num_fewshot=c.num_fewshot,
                            limit=c.limit, batch_size=c.batch_size)


class QualityStage(Stage):
    name, parent = "quality", "generate"
    reads = ("quality.judge", "quality.judge_model", "quality.suite")
    unkeyed = ("data.data_dir",)

    def enabled(self, cfg):
        return cfg.quality is not None

    def key_parts(self, cfg, k, seed):
        q = cfg.quality
        return (q.model_dump(exclude={"baseline_k"}), judge_keys([q.judge], judge_model=q.judge_model))

    def run(self, ctx):
        from ..judge import judge

        q = ctx.config.quality
        judge([q.judge], ctx.parent, ctx.path, judge_kwargs={"data_dir": ctx.data_dir, "judge_model": q.judge_model},
              suites=[q.suite])


# config fields no step reads, each with why: a change to one of them re-runs nothing
NOT_IN_STEPS = {
    "name": "the run folder's name",
    "seeds": "the sweep's axis: each point's key has its own seed",
    "data.k": "the sweep's axis: each point's key has its own k",
    "report": "read by the report, which is rewritten on every run",
    "quality.baseline_k": "which k the report compares each quality score against",
    "executor": "where the points run, not what they compute",
    "tracking": "where results are sent after they are made",
}

for _stage in (MixtureStage(), TrainStage(), PairsStage(), DPOStage(), GenerateStage(), JudgeStage(), CapabilityStage(),
               QualityStage()):
    register_stage(_stage)


def judge_keys(names: list[str], **kwargs) -> list[str]:
    """Judges by id@version, so a judge whose implementation changed re-runs its step."""
    from ..judge import get_judges

    return sorted(j.key for j in get_judges(names, **kwargs))


def _local_digests(tasks: list[str]) -> dict[str, str]:
    """Content hashes of local task files, so an edited file re-runs its evaluation."""
    from ..capability.tasks import parse_tasks
    from ..fileio import sha256_file

    return {s.name: sha256_file(s.path) for s in parse_tasks(tasks) if s.local and s.path.is_file()}


__all__ = ["NOT_IN_STEPS", "SFT", "SFT_DPO", "STAGES", "ConfigView", "Stage", "StageContext", "UndeclaredRead", "data_dir", "judge_keys", "local_file_digests"]

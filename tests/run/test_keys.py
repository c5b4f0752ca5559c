"""Every step key covers what its output depends on: a walk over the run config's schema.

For each field of every config section, the test changes that field alone and plans the sweep
again: exactly the steps of the stages that declare reading the field (``Stage.reads``), and the steps
below them, get new keys; a field no stage reads (``NOT_IN_STEPS``) changes no key. A field that is
neither declared nor listed fails the test, so a new config field must say which steps it feeds.
"""

from __future__ import annotations

import types
import typing

import pytest
import yaml
from pydantic import BaseModel

from safemix.config import RunConfig
from safemix.errors import SafemixError
from safemix.run import plan
from safemix.run.stages import NOT_IN_STEPS, STAGES, ConfigView, UndeclaredRead
from safemix.train.config import TrainConfig

BASE = {
    "name": "keys", "model": "smollm2-135m", "seeds": [1],
    "data": {"general": "gpteacher-roleplay", "n_general": 8, "safety": "safety-tuned-llamas", "k": [0, 8]},
    "train": {"batch_size": 4, "micro_batch_size": 4},
    "dpo": {},  # the second method: its stages are planned too
    "generate": {"suites": ["q-harm", "I-Alpaca"], "limit_per_suite": 4},
    "judges": ["xstest-strmatch", "refusal-clf", "llm-refusal", "llama-guard-3-1b"],
    "judge_options": {"base_url": "http://127.0.0.1:9/v1", "judge_model": "m", "timeout": 5, "max_retries": 1,
                      "max_time": 30, "batch_size": 4, "backend": "hf", "max_new_tokens": 8},
    "capability": {"tasks": ["safemix-mini-mc"]},
    "quality": {"judge": "quality-rm", "judge_model": "org/reward-model", "suite": "I-Alpaca"},
    "budget": {"judge": "refusal-clf-without-llama2", "cheap": "refusal-clf", "fraction": 0.5},
    "report": {"cards": [8]},
    "executor": {"kind": "local"},
    "tracking": {"mlflow": {}, "wandb": {}, "tensorboard": {}},
}

DERIVED = object()  # a field set from another one (train.model is model)


class With:
    """An alternative value that needs other fields changed with it to stay a valid config."""

    def __init__(self, value, **others):
        self.value, self.others = value, {k.replace("__", "."): v for k, v in others.items()}

# alternative values where "the next valid value" cannot be derived from the type alone
ALT = {
    "name": "keys2", "model": "HuggingFaceTB/SmolLM2-360M-Instruct", "train.model": DERIVED,
    "data.general": "gpteacher-codegen", "data.safety": "my-safety.jsonl", "data.strategy": "maxmin",
    "data.data_dir": "/elsewhere", "train.lora_target_modules": ["q_proj"], "dpo.pairs": "hh-harmless",
    "train.reference": "runs/x/train/k0",
    "generate.suites": ["q-harm", "I-Alpaca", "xstest"], "generate.limit_per_suite": 5, "generate.preset": "greedy",
    "judges": ["xstest-strmatch", "refusal-clf", "llm-refusal", "llama-guard-3-1b", "refusal-clf-without-gpt4"],
    "judge_options.base_url": "http://127.0.0.1:10/v1", "judge_options.judge_model": "m2",
    "judge_options.backend": "vllm",
    # options of judges the base config does not run: changed together with a judge that takes them
    **{f"judge_options.{o}": With(v, judges=["xstest-strmatch", "refusal-clf", "llm-refusal", "llama-guard-3-1b", j])
       for o, v, j in (("device", "cpu", "harm-rm-redteam"), ("allow_unsafe_weights", True, "harm-rm-redteam"),
                       ("threshold", 0.5, "harm-rm-redteam"), ("encoder", "all-minilm-l6-v2", "quality-relevance"))},
    "generate.attacks": ["prefix-injection"],
    "generate.attack_suites": With(["q-harm"], generate__attacks=["role-play"]),
    "capability.tasks": ["safemix-mini-mc", "piqa"],
    "quality.judge": With("quality-relevance", quality__judge_model=None), "quality.judge_model": "org/other-model",
    "quality.suite": "q-harm", "quality.baseline_k": 8, "train.batch_size": 8, "train.micro_batch_size": 2,
    "budget.judge": "refusal-clf-without-gpt4", "budget.cheap": "xstest-strmatch", "report.cards": [0, 8],
    "executor.kind": "ray", "executor.slurm.partition": "p", "executor.slurm.account": "a",
    "executor.slurm.sbatch": {"qos": "high"}, "executor.ray.address": "auto",
    "tracking.mlflow.uri": "mlruns2", "tracking.mlflow.experiment": "e2", "tracking.wandb.project": "p2",
    "tracking.wandb.entity": "team", "tracking.wandb.dir": "wb", "tracking.tensorboard.log_dir": "tb2",
}


def _model_of(annotation) -> type[BaseModel] | None:
    for a in typing.get_args(annotation) or (annotation,):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def leaves(model: type[BaseModel], prefix: str = ""):
    """(dotted path, annotation) of every field, descending into config sections."""
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        if inner is not None and field.annotation is not dict:
            yield from leaves(inner, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field.annotation


def _get(doc, path):
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def _set(doc, path, value):
    *head, last = path.split(".")
    for part in head:
        doc = doc.setdefault(part, {})
    doc[last] = value


def alternative(path: str, annotation, value):
    if path in ALT:
        return ALT[path]
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    kind = next(a for a in typing.get_args(annotation) if a is not type(None)) if optional else annotation
    if typing.get_origin(kind) is typing.Literal:
        return next(c for c in typing.get_args(kind) if c != value)
    if kind is bool:
        return not value
    if kind is int:
        return 1 if value is None else value + 1
    if kind is float:
        return value * 0.5 if value else 0.5
    raise AssertionError(f"no alternative value for config field '{path}' ({annotation}): add one to ALT")


def _stage_of(path: str) -> tuple[set[str], set[str]]:
    """(stages whose key covers ``path``, stages that read it without keying it)."""
    under = lambda p, decl: any(p == d or p.startswith(d + ".") for d in decl)  # noqa: E731
    keyed = {n for n, s in STAGES.items() if under(path, s.reads) and not under(path, s.unkeyed)}
    unkeyed = {n for n, s in STAGES.items() if under(path, s.unkeyed)}
    return keyed, unkeyed


def _below(stages: set[str]) -> set[str]:
    """The stages downstream: children, and in the DPO arm the children of the training that the DPO
    training stands for (the stages after it)."""
    order = list(STAGES)
    out = set(stages)
    while True:
        more = {n for n, s in STAGES.items() if s.parent in out or any(
            STAGES[o].stands_for and STAGES[o].stands_for == s.parent and order.index(n) > order.index(o) for o in out)} - out
        if not more:
            return out
        out |= more


def _keys(doc, tmp_path) -> dict[tuple, str]:
    return {(s.stage, s.k, s.seed, s.arm): s.key for s in plan(RunConfig(**doc), tmp_path)}


FIELDS = sorted(dict(leaves(RunConfig)).items())


@pytest.mark.parametrize("path, annotation", FIELDS, ids=[p for p, _ in FIELDS])
def test_changing_a_field_changes_exactly_the_keys_of_the_steps_that_read_it(path, annotation, tmp_path):
    keyed, unkeyed = _stage_of(path)
    not_in_steps = any(path == f or path.startswith(f + ".") for f in NOT_IN_STEPS)
    assert keyed or unkeyed or not_in_steps, f"config field '{path}' is read by no stage and not in NOT_IN_STEPS"
    assert not (keyed and not_in_steps), f"'{path}' is both read by {keyed} and listed in NOT_IN_STEPS"
    if path in ("seeds", "data.k"):
        return  # the sweep's axes: each point's own k and seed are in its keys
    base = yaml.safe_load(yaml.safe_dump(BASE))
    new = alternative(path, annotation, _get(RunConfig(**base).model_dump(), path))
    if new is DERIVED:
        return
    if path in {f"train.{f}" for f in TrainConfig.DPO_FIELDS}:  # the DPO stage's to set: a run config may not
        doc = yaml.safe_load(yaml.safe_dump(base))
        _set(doc, path, new)
        with pytest.raises(ValueError, match="add a dpo: section|set objective: dpo"):
            RunConfig(**doc)
        return
    changed_doc = yaml.safe_load(yaml.safe_dump(base))
    for p, v in ({path: new} if not isinstance(new, With) else {path: new.value, **new.others}).items():
        _set(changed_doc, p, v)
    before, after = _keys(base, tmp_path), _keys(changed_doc, tmp_path)
    assert before.keys() == after.keys()
    changed = {stage for point, key in before.items() if after[point] != key for stage in [point[0]]}
    assert changed == (_below(keyed) if keyed else set()), f"changing {path} re-keyed {sorted(changed)}"


@pytest.fixture(autouse=True)
def _hub_models_in_cache(tmp_path, monkeypatch):
    """The Hub models the configs name, as a compute node has them after prefetch: in the local Hub cache, each at a
    commit (the keys hold it: the training's model, its family's default LoRA targets, the judges' models)."""
    for i, repo in enumerate(("HuggingFaceTB/SmolLM2-360M-Instruct", "org/reward-model", "org/other-model",
                              "meta-llama/Llama-Guard-3-1B", "safepaca/absolute-harmfulness-predictor-redteam")):
        sha = str(i + 3) * 40
        snap = tmp_path / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / sha
        snap.mkdir(parents=True)
        (snap / "config.json").write_text('{"model_type": "llama"}')
        (snap.parent.parent / "refs").mkdir()
        (snap.parent.parent / "refs" / "main").write_text(sha)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


def test_changing_the_model_rekeys_training_without_a_train_section(tmp_path):
    """Item 1 of issue 30: the train key hashed the default TrainConfig (built-in model), so two configs
    differing only in ``model`` shared every folder."""
    doc = {k: v for k, v in BASE.items() if k != "train"}
    other = {**doc, "model": "HuggingFaceTB/SmolLM2-360M-Instruct"}
    a, b = _keys(doc, tmp_path), _keys(other, tmp_path)
    assert {p[0] for p in a if a[p] != b[p]} == {"train", "pairs", "dpo", "generate", "judge", "capability", "quality"}
    assert RunConfig(**other).train.model == other["model"]
    with pytest.raises(ValueError, match="train.model 'x/y' differs from model"):
        RunConfig(**{**doc, "train": {"model": "x/y"}})


def test_edited_local_data_rekeys_its_steps(tmp_path):
    """A data file or prompt file edited in place re-runs what reads it (its sha256 is in the key)."""
    general, prompts = tmp_path / "g.jsonl", tmp_path / "p.jsonl"
    general.write_text('{"instruction": "a", "output": "b"}\n')
    prompts.write_text('{"prompt": "hello"}\n')
    doc = {**BASE, "data": {**BASE["data"], "general": str(general)},
           "generate": {**BASE["generate"], "suites": ["q-harm", "I-Alpaca", str(prompts)]}}
    a = _keys(doc, tmp_path)
    general.write_text('{"instruction": "a", "output": "c"}\n')
    b = _keys(doc, tmp_path)
    assert {p[0] for p in a if a[p] != b[p]} == set(STAGES)
    prompts.write_text('{"prompt": "hello there"}\n')
    c = _keys(doc, tmp_path)
    assert {p[0] for p in b if b[p] != c[p]} == {"generate", "judge", "quality"}


def test_a_stage_cannot_read_a_field_it_does_not_declare():
    cfg = RunConfig(**BASE)
    view = STAGES["generate"].view(cfg)
    assert view.generate.batch_size == cfg.generate.batch_size and view.data.data_dir is None
    with pytest.raises(UndeclaredRead, match="config field 'train'"):
        view.train  # noqa: B018
    with pytest.raises(UndeclaredRead, match="'data.general'"):
        STAGES["judge"].view(cfg).data.general  # noqa: B018
    assert isinstance(STAGES["mixture"].view(cfg).data, ConfigView)


@pytest.mark.parametrize("only, message", [({"k": 99}, "--only k=99: not a k of this sweep (0, 8)"),
                                           ({"seed": 3}, "--only seed=3: not a seed of this sweep (1)")])
def test_only_names_a_point_of_the_sweep(only, message, tmp_path):
    with pytest.raises(SafemixError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(RunConfig(**BASE), tmp_path, only)


@pytest.mark.parametrize("path, value", [("train.learning_rate", float("inf")), ("train.epochs", float("inf")),
                                         ("train.learning_rate", float("nan")), ("report.harm_target", float("nan")),
                                         ("train.lora_r", 1_000_000_000)])
def test_non_finite_and_absurd_numbers_are_refused(path, value):
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    _set(doc, path, value)
    with pytest.raises(ValueError, match=path.split(".")[-1]):
        RunConfig(**doc)

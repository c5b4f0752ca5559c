"""Two methods in one sweep (a dpo: section): SFT on the mixture and SFT-then-DPO on k safety pairs share the
k=0 model; the DPO arm's pairs are the demonstrations the SFT mixture adds, preferred over the k=0 model's
own answers; the report sets both methods side by side."""

import csv
import io
import json

import pytest
import yaml

from safemix.config import RunConfig, load_run_config
from safemix.run import plan, run

TINY = """
name: methods
model: smollm2-135m
seeds: [1]
data: {{general: gpteacher-roleplay, n_general: 8, safety: safety-tuned-llamas, k: [0, 4], data_dir: "{data}"}}
train: {{batch_size: 4, micro_batch_size: 4, epochs: 1, cutoff_len: 96, learning_rate: 1.0e-3, progress: false}}
dpo: {{pairs: derived, epochs: 1, max_new_tokens: 8, learning_rate: 2.0e-3}}
generate: {{suites: [q-harm, xstest, I-Alpaca], limit_per_suite: 4, preset: greedy, max_new_tokens: 12, batch_size: 8}}
judges: [refusal-clf]
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory, shared_data):
    path = tmp_path_factory.mktemp("cfg") / "methods.yaml"
    path.write_text(TINY.format(data=shared_data))
    return path


def test_the_dpo_arm_starts_from_the_shared_k0_steps(config, tmp_path):
    steps = plan(load_run_config(config), tmp_path)
    assert [(s.stage, s.k, s.arm) for s in steps] == [
        ("mixture", 0, "sft"), ("train", 0, "sft"), ("generate", 0, "sft"), ("judge", 0, "sft"),
        ("mixture", 4, "sft"), ("train", 4, "sft"), ("generate", 4, "sft"), ("judge", 4, "sft"),
        ("pairs", 4, "sft+dpo"), ("dpo", 4, "sft+dpo"), ("generate", 4, "sft+dpo"), ("judge", 4, "sft+dpo")]
    pairs, dpo, gen = steps[8], steps[9], steps[10]
    assert pairs.parent is steps[1] and dpo.parent is pairs and gen.parent is dpo
    assert len({s.path for s in steps}) == len(steps)
    # without the section: the SFT sweep alone, its keys unchanged
    doc = yaml.safe_load(config.read_text())
    del doc["dpo"]
    alone = plan(RunConfig(**doc), tmp_path)
    assert [s.key for s in alone] == [s.key for s in steps[:8]]
    # another preference set re-keys the DPO arm only; the derived pairs' answer length too
    for change in ({"pairs": "hh-harmless"}, {"max_new_tokens": 9}, {"beta": 0.2}):
        other = plan(RunConfig(**{**doc, "dpo": {**yaml.safe_load(config.read_text())["dpo"], **change}}), tmp_path)
        moved = {(s.stage, s.arm) for s, t in zip(steps, other) if s.key != t.key}
        assert {arm for _, arm in moved} == {"sft+dpo"} and ("dpo", "sft+dpo") in moved, change


def test_a_run_config_cannot_set_the_dpo_fields_of_its_training(config):
    doc = yaml.safe_load(config.read_text())
    for field in ("objective", "dpo_beta"):
        with pytest.raises(ValueError, match="add a dpo: section"):
            RunConfig(**{**doc, "train": {**doc["train"], field: "dpo" if field == "objective" else 0.2}})


@pytest.mark.slow
def test_sft_and_dpo_side_by_side(config, tmp_path, shared_data):
    out = run(config, tmp_path / "r", progress=False)
    steps = plan(load_run_config(config), out)
    assert all(s.done for s in steps)
    pairs_step = next(s for s in steps if s.stage == "pairs")
    manifest = json.loads((pairs_step.path / "pairs.json").read_text())
    pairs = [json.loads(x) for x in (pairs_step.path / "pairs.jsonl").read_text().splitlines()]
    mixture = next(s for s in steps if s.stage == "mixture" and s.k == 4)
    added = json.loads(next(mixture.path.glob("k4.manifest.json")).read_text())["safety_ids"]
    # the pairs are the demonstrations the SFT mixture at k=4 adds, each preferred over the k=0 model's answer
    assert [p["id"] for p in pairs] == [i for i in added if i in {p["id"] for p in pairs}] and len(pairs) >= 3
    assert manifest["demonstrations"] == 4 and manifest["leakage"]["checked"]
    from safemix.data import load_instructions

    demos = {r.id: r for r in load_instructions("safety-tuned-llamas", shared_data).records}
    assert all(p["chosen"] == demos[p["id"]].output and p["rejected"] != p["chosen"] for p in pairs)
    dpo = next(s for s in steps if s.stage == "dpo")
    trained = json.loads((dpo.path / "manifest.json").read_text())
    k0 = next(s for s in steps if s.stage == "train" and s.k == 0)
    assert trained["objective"] == "dpo" and trained["reference"]["path"] == str(k0.path.resolve())
    # the report: both methods' rows, a table per k and the figure
    report = out / "report"
    rows = list(csv.DictReader(io.StringIO((report / "methods.csv").read_text())))
    got = {(r["method"], r["suite"], r["k"]) for r in rows}
    assert {("sft", "all-harmful", "0"), ("sft", "all-harmful", "4"), ("sft+dpo", "all-harmful", "4"),
            ("sft+dpo", "xstest-safe", "4"), ("sft+dpo", "I-Alpaca", "4")} <= got
    assert ("sft+dpo", "all-harmful", "0") not in got  # k=0 is the SFT model, not trained again
    md = (report / "report.md").read_text()
    assert "Methods side by side: SFT vs SFT+DPO per k" in md and (report / "figures" / "methods.png").is_file()
    results = (report / "results.csv").read_text()
    assert "sft+dpo" not in results and results.count("all-harmful,4,1,refusal-clf,harmful_compliance") == 1
    # moving the run folder keeps the DPO model loadable (its reference is found beside it)
    import shutil

    from safemix.generate import load_backend

    moved = tmp_path / "moved"
    shutil.move(str(out), moved)
    be, info, _ = load_backend(None, moved / dpo.path.relative_to(out), None, False)
    assert info["adapter_fingerprint"]
    # a second run does nothing
    again = run(config, moved, progress=False)
    assert json.loads((again / "run.json").read_text())["ran"] == 0


def test_cluster_jobs_run_the_shared_k0_points_first(config, tmp_path):
    """On SLURM or Ray each point is a job: the DPO arm of k=4 builds on k=0's model, so k=0's jobs go first
    (a job never finds its input being made by another); a sweep without k=0 has its smallest point make it.
    Within a wave the largest k goes first (the longest training)."""
    from safemix.run.runner import point_waves

    doc = yaml.safe_load(config.read_text())
    doc["seeds"], doc["data"]["k"] = [1, 2], [0, 4, 8]
    assert point_waves(plan(RunConfig(**doc), tmp_path), [0, 4, 8]) == [[(0, 1), (0, 2)], [(8, 1), (8, 2), (4, 1), (4, 2)]]
    doc["data"]["k"] = [4, 8]
    assert point_waves(plan(RunConfig(**doc), tmp_path), [4, 8]) == [[(4, 1), (4, 2)], [(8, 1), (8, 2)]]
    del doc["dpo"]
    assert point_waves(plan(RunConfig(**doc), tmp_path), [4, 8]) == [[(8, 1), (8, 2), (4, 1), (4, 2)]]

"""``safemix run CONFIG --smoke``: the smoke sweep on the real model (one seed, the smallest and largest k, a few
steps, one full generation batch), each step's own peak, and a projection of the full run per step."""

import json

import pytest

TINY = """name: sm
model: smollm2-135m
seeds: [1, 2]
data: {general: gpteacher-roleplay, n_general: 16, k: [0, 4, 8], leakage: "off"}
train: {batch_size: 4, micro_batch_size: 4, cutoff_len: 96, learning_rate: 1.0e-3, progress: false}
generate: {suites: [Q-Harm, xstest], limit_per_suite: 5, max_new_tokens: 8, batch_size: 8, attacks: [prefix-injection]}
judges: [xstest-strmatch]
capability: {tasks: [safemix-mini-mc], batch_size: 8}
"""


@pytest.mark.slow
def test_smoke_runs_every_stage_small_and_projects_the_full_run(shared_data, tmp_path, run_cli):
    cfg = tmp_path / "sm.yaml"
    cfg.write_text(TINY)
    code, _, err = run_cli("run", cfg, "--smoke", "--out", tmp_path / "sm", "--data-dir", shared_data)
    assert code == 0, err
    smoke = tmp_path / "sm-smoke"
    assert sorted(p.name for p in (smoke / "mixtures").glob("*/k[0-9].json")) == ["k0.json", "k8.json"]
    assert not (tmp_path / "sm").exists()  # the full run's folder is not touched
    rec = json.loads((smoke / "run.json").read_text())
    assert rec["isolated"] and {t["stage"] for t in rec["step_times"]} == {"mixture", "train", "generate", "judge",
                                                                             "capability"}
    p = json.loads((smoke / "projection.json").read_text())
    assert p["answers_per_point"]["smoke"] <= 8 < p["answers_per_point"]["full"]
    steps = p["steps"]
    assert len(steps) == 2 * 3 * 5 and all(s["seconds"] is not None and s["peak_mb"] for s in steps)
    train = {s["point"]: s["seconds"] for s in steps if s["stage"] == "train"}
    assert train["k=0 seed=1"] <= train["k=4 seed=1"] <= train["k=8 seed=1"]
    assert "full run: about" in err and "projected s" in err
    # the smoke's training is capped at a few steps; its generation is one full batch of the full run's size
    manifest = json.loads(next((smoke / "train").glob("*/manifest.json")).read_text())
    assert manifest["steps"] <= 4


@pytest.mark.slow
def test_the_memory_plan_is_near_the_smokes_measured_peaks(shared_data, tmp_path, run_cli):
    """The smoke trains and generates with the full run's micro-batch, cutoff and generation batch, each step in its
    own process: the memory plan's estimate per stage is within 1.5x of the step's measured peak."""
    import re

    cfg = tmp_path / "sm.yaml"
    cfg.write_text(TINY.replace("seeds: [1, 2]", "seeds: [1]").replace("k: [0, 4, 8]", "k: [0, 8]"))
    code, _, err = run_cli("run", cfg, "--smoke", "--out", tmp_path / "sm", "--data-dir", shared_data)
    assert code == 0, err
    rec = json.loads((tmp_path / "sm-smoke" / "run.json").read_text())
    measured = {}
    for t in rec["step_times"]:
        measured[t["stage"]] = max(measured.get(t["stage"], 0), t["peak_rss_mb"])
    code, table, _ = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    row = next(line for line in table.splitlines() if "memory plan fits" in line)
    for stage in ("train", "generate", "capability"):
        estimate = float(re.search(rf"{stage} ([\d.]+) GB", row).group(1)) * 1024
        assert measured[stage] / 1.5 <= estimate <= measured[stage] * 1.5, (stage, estimate, measured[stage])

"""``executor: {isolate: true}``: each step in its own child process. The results are the same bit for bit as in one
process, each step's peak memory is its own (the driver never holds a model), and a step that fails in its child is
one line naming it."""

import json
import os
import subprocess
import sys

import pytest

TINY = """name: iso
model: smollm2-135m
data: {general: gpteacher-roleplay, n_general: 16, k: [0, 8], leakage: "off"}
train: {max_steps: 3, batch_size: 4, micro_batch_size: 4, cutoff_len: 96, learning_rate: 1.0e-3, progress: false}
generate: {suites: [Q-Harm, xstest], limit_per_suite: 3, max_new_tokens: 8, batch_size: 8}
judges: [xstest-strmatch, refusal-clf]
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # bit-for-bit comparison across processes


def _run(cfg, out, data):
    return subprocess.run([sys.executable, "-m", "safemix", "run", str(cfg), "--out", str(out), "--data-dir", str(data)],
                          env=ENV, capture_output=True, text=True)


@pytest.mark.slow
def test_isolated_steps_give_the_same_results_and_their_own_peaks(shared_data, tmp_path):
    one, iso = tmp_path / "one.yaml", tmp_path / "iso.yaml"
    one.write_text(TINY)
    iso.write_text(TINY + "executor: {isolate: true}\n")
    a, b = _run(one, tmp_path / "a", shared_data), _run(iso, tmp_path / "b", shared_data)
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-2000:] + b.stderr[-2000:]
    assert (tmp_path / "a" / "report" / "results.csv").read_text() == (tmp_path / "b" / "report" / "results.csv").read_text()
    rec_a, rec_b = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("a", "b"))
    assert rec_b["isolated"] and not rec_a["isolated"] and rec_b["ran"] == rec_a["ran"] == 8
    peaks = {r["stage"]: r["peak_rss_mb"] for r in rec_b["step_times"]}
    # each step's own process: a mixture needs no model, a training does
    assert peaks["mixture"] < peaks["train"] and rec_b["peak_rss_mb"] == max(r["peak_rss_mb"] for r in rec_b["step_times"])
    # in one process the peak only grows; isolated, the judge step after a training is back below it
    steps_b = [r["peak_rss_mb"] for r in rec_b["step_times"]]
    assert min(steps_b[1:]) < max(steps_b)
    assert not list((tmp_path / "b").rglob(".*.child"))  # nothing left beside the steps


@pytest.mark.slow
def test_a_step_that_fails_in_its_child_is_one_line(shared_data, tmp_path):
    cfg = tmp_path / "iso.yaml"
    cfg.write_text(TINY.replace("suites: [Q-Harm, xstest]", "suites: [Q-Harm]").replace(
        "judges: [xstest-strmatch, refusal-clf]", "judges: [llm-refusal]\njudge_options: {base_url: 'http://127.0.0.1:9/v1', "
        "judge_model: m, timeout: 0.2, max_retries: 0}") + "executor: {isolate: true}\n")
    got = _run(cfg, tmp_path / "run", shared_data)
    assert got.returncode == 2
    assert got.stderr.strip().splitlines()[-1].startswith("error: ") and "verdict(s) failed" in got.stderr


@pytest.mark.slow
def test_steps_fork_from_the_server_and_a_changed_environment_starts_them_fresh(shared_data, tmp_path, monkeypatch):
    """The fork server's modules read the environment when imported: while it is the one the server started with, a
    step forks from it; once a variable changes, the step is a fresh process that sees the change."""
    import yaml

    from safemix.config import RunConfig
    from safemix.run import isolate
    from safemix.run.plan import plan

    doc = yaml.safe_load(TINY)
    doc["data"]["data_dir"] = str(shared_data)
    cfg, run_dir = RunConfig.model_validate(doc), tmp_path / "run"
    mixtures = [s for s in plan(cfg, run_dir) if s.stage == "mixture"]
    # the test session's environment: the server, if an earlier test started it, started in it too
    assert isolate._server_env in (None, dict(os.environ))
    started = []
    real = isolate.subprocess.run
    monkeypatch.setattr(isolate.subprocess, "run", lambda *a, **kw: started.append(a[0]) or real(*a, **kw))
    peaks = isolate.run_in_child(doc, run_dir, mixtures[0].path, False)
    assert mixtures[0].done and peaks["peak_rss_mb"] > 0 and not started  # forked, no new interpreter
    monkeypatch.setenv("SAFEMIX_TEST_CHANGED", "1")
    peaks = isolate.run_in_child(doc, run_dir, mixtures[1].path, False)
    assert mixtures[1].done and peaks["peak_rss_mb"] > 0 and started and started[0][1:3] == ["-m", "safemix.run.child"]
    with pytest.raises(Exception, match="not a step of this run's plan"):
        isolate.run_in_child(doc, run_dir, run_dir / "nope" / "step", False)

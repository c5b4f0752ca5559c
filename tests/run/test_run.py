"""A real tiny sweep (smollm2-135m, real data), killed with SIGKILL and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from safemix.run import plan, run, status
from safemix.config import load_run_config

TINY = """
name: tiny
model: smollm2-135m
seeds: [1]
data: {{general: gpteacher-roleplay, n_general: 8, safety: safety-tuned-llamas, k: [0, 8], data_dir: "{data}"}}
train: {{batch_size: 4, micro_batch_size: 4, epochs: 1, cutoff_len: 96, learning_rate: 1.0e-3, progress: false, save_every: 1}}
generate: {{suites: [q-harm, xstest], limit_per_suite: 4, preset: greedy, max_new_tokens: 12, batch_size: 8}}
judges: [xstest-strmatch, refusal-clf]
"""


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory, shared_data):
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(TINY.format(data=shared_data))
    return path


def test_dry_run_and_status(tiny_config, tmp_path, capsys):
    run(tiny_config, tmp_path / "r", dry_run=True, progress=False)
    out = capsys.readouterr().out
    assert out.count("todo") == 8 and "mixture" in out and "judge" in out
    assert not (tmp_path / "r").exists()
    steps = plan(load_run_config(tiny_config), tmp_path / "r", only={"k": 8})
    assert {s.k for s in steps} == {8} and [s.stage for s in steps] == ["mixture", "train", "generate", "judge"]


def test_changed_config_reruns_only_what_changed(tiny_config, tmp_path):
    cfg = load_run_config(tiny_config)
    a = plan(cfg, tmp_path)
    b = plan(cfg.model_copy(update={"judges": ["xstest-strmatch"]}), tmp_path)
    assert [s.key for s in a if s.stage != "judge"] == [s.key for s in b if s.stage != "judge"]
    assert [s.key for s in a if s.stage == "judge"] != [s.key for s in b if s.stage == "judge"]
    c = plan(cfg.model_copy(update={"train": cfg.train.model_copy(update={"learning_rate": 5e-4})}), tmp_path)
    assert [s.key for s in a if s.stage == "mixture"] == [s.key for s in c if s.stage == "mixture"]
    assert all(x.key != y.key for x, y in zip(a, c) if x.stage != "mixture")


def test_kill_9_and_resume_equals_uninterrupted(tiny_config, tmp_path):
    straight = run(tiny_config, tmp_path / "straight", progress=False)
    report = straight / "report"
    assert (report / "report.md").is_file() and (report / "report.html").is_file()
    assert (report / "figures" / "xstest_refusals.png").is_file() and (report / "figures" / "xstest_refusals.svg").is_file()
    results = (report / "results.csv").read_text()
    assert results.splitlines()[0] == "suite,k,seed,judge,metric,n,value,ci_low,ci_high"
    assert "xstest-safe" in results or "xstest-unsafe" in results

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "safemix", "run", str(tiny_config), "--out", str(killed)]
    for trigger in ("train", "generate"):  # kill inside training, then inside generation
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if trigger == "train" and list(killed.glob("train/*.partial/checkpoint/state.json")):
                break
            if trigger == "generate" and list(killed.glob("generate/*/*.jsonl")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the run ended before it could be killed in {trigger}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert "todo" in status(killed)
    run(tiny_config, killed, progress=False)
    assert (killed / "report" / "results.csv").read_text() == results
    assert "8/8 steps done" in status(killed)
    again = json.loads((killed / "run.json").read_text()) if (killed / "run.json").exists() else {}
    run(tiny_config, killed, progress=False)
    assert json.loads((killed / "run.json").read_text())["ran"] == 0 and again

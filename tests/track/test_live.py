"""``safemix train`` with trackers: the curve logged live, and a training killed and resumed logs
each step once (the cut-off tracker run is replaced by one with the kept steps replayed)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_train_logs_its_curve_live_and_a_resumed_training_logs_each_step_once(smollm, mixture_file, tmp_path,
                                                                               mlflow_client, read_wandb, read_tensorboard):
    out = tmp_path / "adapter"
    cmd = [sys.executable, "-m", "safemix", "train", "--data", str(mixture_file), "--out", str(out), "--max-steps", "6",
           "--batch-size", "4", "--micro-batch-size", "4", "--cutoff-len", "64", "--save-every", "1",
           "--mlflow", "mlruns", "--tensorboard", "tb", "--wandb", "lab/safety", "--wandb-mode", "offline"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    state = out.with_name("adapter.partial") / "checkpoint" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(state.read_text())["step"] >= 2:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = json.loads(out.with_name("adapter.partial").joinpath("tracking.json").read_text())
    assert {name: v["done"] for name, v in first.items()} == {"mlflow": False, "tensorboard": False, "wandb": False}

    done = subprocess.run(cmd + ["--resume"], cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stderr and "wandb:" not in done.stderr  # W&B's own chatter is silenced
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    losses = [(r["step"], r["loss"]) for r in log if "loss" in r]
    assert [s for s, _ in losses] == [1, 2, 3, 4, 5, 6]
    ids = json.loads((out / "tracking.json").read_text())
    assert all(v["done"] for v in ids.values())

    client = mlflow_client((tmp_path / "mlruns").as_uri())
    exp = client.get_experiment_by_name("safemix")
    runs = client.search_runs([exp.experiment_id])  # active runs only: the cut-off one was replaced
    assert [r.info.run_id for r in runs] == [ids["mlflow"]["run_id"]] and runs[0].info.run_id != first["mlflow"]["run_id"]
    history = client.get_metric_history(ids["mlflow"]["run_id"], "train/loss")
    assert [(h.step, h.value) for h in history] == losses
    assert runs[0].data.params["max_steps"] == "6" and runs[0].data.metrics["train/steps"] == 6
    assert runs[0].data.tags["safemix.train"] == str(out)

    tb = read_tensorboard(tmp_path / "tb" / "adapter")
    assert [(s, round(v, 5)) for s, v in tb["train/loss"]] == [(s, round(v, 5)) for s, v in losses]

    wb = [read_wandb(f) for f in sorted((tmp_path / "wandb").glob("offline-run-*"))]
    # one W&B run id, resumed once (W&B itself may lose what it had not flushed when killed: the
    # kept steps are replayed into the resumed run, so it holds every step)
    assert {w.get("id") for w in wb} - {None} == {ids["wandb"]["run_id"]} and len(wb) == 2
    logged = sorted({h["_step"]: h["train/loss"] for w in wb for h in w["history"] if "train/loss" in h}.items())
    assert logged == losses and next(w for w in wb if w.get("id"))["config"]["learning_rate"] == 3e-4

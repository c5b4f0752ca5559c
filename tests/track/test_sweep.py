"""A sweep's points as tracker runs, logged to a real MLflow file store, real TensorBoard event files
and W&B in offline mode, and read back. The run folder here is a finished sweep's artifacts written
by the test (markers, training logs, results.json), so no model is trained."""

import json

import pytest

from safemix.config import TrackingSection, load_run_config
from safemix.errors import SafemixError
from safemix.run.plan import plan
from safemix.run.runner import write_steps
from safemix.run.stages import STAGES
from safemix.track import TRACKERS
from safemix.track.sweep import track_run

CFG = """
name: swept
model: smollm2-135m
data: {general: gpteacher-roleplay, n_general: 8, k: [0, 8]}
generate: {suites: [q-harm, xstest]}
tracking:
  mlflow: {}
  tensorboard: {}
  wandb: {mode: offline}
"""
ROWS = [  # suite, k, seed, judge, metric, n, value, ci_low, ci_high
    ("all-harmful", 0, 1, "refusal-clf", "harmful_compliance", 40, 0.9, 0.77, 0.96),
    ("all-harmful", 8, 1, "refusal-clf", "harmful_compliance", 40, 0.3, 0.18, 0.45),
    ("xstest-safe", 0, 1, "refusal-clf", "refusal_rate", 20, 0.05, 0.01, 0.24),
    ("xstest-safe", 8, 1, "refusal-clf", "refusal_rate", 20, 0.25, 0.11, 0.47),
    ("xstest-safe", 8, 1, "xstest-strmatch", "refusal_rate", 20, 0.2, 0.08, 0.42),
    ("xstest-safe", 8, "pooled", "refusal-clf", "refusal_rate", 20, 0.25, 0.11, 0.47),
    ("Q-Harm", 8, 1, "-", "eos_rate", 4, 0.5, 0.15, 0.85),
]


def _finished_run(tmp_path, text=CFG):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(text)
    cfg = load_run_config(run_dir / "config.yaml")
    for s in plan(cfg, run_dir):
        s.path.mkdir(parents=True)
        (s.path / STAGES[s.stage].marker.format(k=s.k)).write_text("{}")
        if s.stage == "train":
            rows = [{"step": i, "loss": 2.0 - 0.1 * i - 0.01 * s.k, "lr": 1e-3, "tokens_per_s": 100.0 + i} for i in (1, 2, 3)]
            rows.append({"step": 3, "val_loss": 1.5})
            (s.path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "lo')
    write_steps(cfg, run_dir)  # what 'safemix run' writes: the consumers read the step list, never the planner
    (run_dir / "report").mkdir()
    (run_dir / "report" / "report.md").write_text("# report\n")
    from safemix.report.document import results_document, write_results

    cols = ("suite", "k", "seed", "judge", "metric", "n", "value", "ci_low", "ci_high")
    write_results(run_dir / "report", results_document([dict(zip(cols, r)) for r in ROWS]))
    return cfg, run_dir


def _mlflow_runs(client, run_dir):
    exp = client.get_experiment_by_name("safemix")
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def test_every_point_is_one_tracker_run_in_each_tracker(tmp_path, mlflow_client, read_wandb, read_tensorboard):
    cfg, run_dir = _finished_run(tmp_path)
    lines = track_run(cfg, run_dir)
    assert [line.split(" to ")[1].split()[0] for line in lines] == ["mlflow", "tensorboard", "wandb"]
    assert all("2 point(s) logged" in line for line in lines), lines
    keys = {(s.k, s.stage): s.key for s in plan(cfg, run_dir)}

    client = mlflow_client((run_dir / "mlruns").as_uri())
    runs = _mlflow_runs(client, run_dir)
    assert sorted(runs) == ["swept k=0 seed=1", "swept k=8 seed=1"]
    r = runs["swept k=8 seed=1"]
    assert r.data.tags["k"] == "8" and r.data.tags["seed"] == "1" and r.data.tags["key.train"] == keys[(8, "train")]
    assert r.data.params["data.k"] == "8" and r.data.params["model"] == "smollm2-135m" and "data.data_dir" not in r.data.params
    assert "tracking.mlflow.uri" not in r.data.params and "executor.kind" not in r.data.params
    m = r.data.metrics
    assert (m["headline/harmful_compliance"], m["headline/harmful_compliance_ci_low"], m["headline/harmful_compliance_ci_high"]) \
        == (0.3, 0.18, 0.45)
    assert m["headline/safe_prompt_refusals"] == 0.25 and m["results/xstest-safe/refusal_rate/xstest-strmatch"] == 0.2
    assert m["results/Q-Harm/eos_rate"] == 0.5
    history = client.get_metric_history(r.info.run_id, "train/loss")
    assert [(h.step, round(h.value, 4)) for h in history] == [(1, 1.82), (2, 1.72), (3, 1.62)]  # the torn line is skipped
    assert [h.value for h in client.get_metric_history(r.info.run_id, "train/val_loss")] == [1.5]
    files = {a.path for d in ("report", "train", "config") for a in client.list_artifacts(r.info.run_id, d)}
    assert files == {"report/report.md", "report/results.json", "train/train_log.jsonl", "config/config.yaml"}
    assert runs["swept k=0 seed=1"].data.metrics["headline/harmful_compliance"] == 0.9

    tb = read_tensorboard(run_dir / "tensorboard" / "swept_k=8_seed=1")
    assert [(s, round(v, 4)) for s, v in tb["train/loss"]] == [(1, 1.82), (2, 1.72), (3, 1.62)]
    assert tb["headline/harmful_compliance"] == [(0, pytest.approx(0.3))]

    wb = [read_wandb(f) for f in sorted((run_dir / "wandb").glob("offline-run-*"))]
    assert sorted(w["name"] for w in wb) == ["swept k=0 seed=1", "swept k=8 seed=1"]
    w = next(w for w in wb if w["name"] == "swept k=8 seed=1")
    assert "k=8" in w["tags"] and "seed=1" in w["tags"] and w["config"]["data.k"] == 8
    assert w["config"]["tag.key.train"] == keys[(8, "train")]
    assert [(h["_step"], round(h["train/loss"], 4)) for h in w["history"] if "train/loss" in h] == [(1, 1.82), (2, 1.72), (3, 1.62)]
    assert w["summary"]["headline/harmful_compliance_ci_high"] == 0.45
    assert len(w["artifacts"]) == 3


def test_tracking_again_adds_nothing_and_a_cut_off_point_is_replaced(tmp_path, mlflow_client):
    cfg, run_dir = _finished_run(tmp_path, CFG.replace("  tensorboard: {}\n  wandb: {mode: offline}\n", ""))
    track_run(cfg, run_dir)
    assert track_run(cfg, run_dir) == [f"tracking: 0 point(s) logged to mlflow {(run_dir / 'mlruns').as_uri()} "
                                       "(experiment safemix) (2 already there)"]
    state = json.loads((run_dir / "tracking.json").read_text())
    state["mlflow"]["swept k=8 seed=1"]["done"] = False  # as if killed while logging it
    (run_dir / "tracking.json").write_text(json.dumps(state))
    assert "1 point(s) logged" in track_run(cfg, run_dir)[0]
    client = mlflow_client((run_dir / "mlruns").as_uri())
    runs = _mlflow_runs(client, run_dir)  # search_runs lists active runs: the cut-off one was deleted
    assert len(runs) == 2 and runs["swept k=8 seed=1"].info.run_id != state["mlflow"]["swept k=8 seed=1"]["run_id"]
    assert len(client.get_metric_history(runs["swept k=8 seed=1"].info.run_id, "train/loss")) == 3


def test_an_unreachable_tracker_is_one_line_without_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    text = CFG.replace("  mlflow: {}", '  mlflow: {uri: "http://me:s3cret@127.0.0.1:9"}').replace("  wandb: {mode: offline}\n", "")
    cfg, run_dir = _finished_run(tmp_path, text)
    with pytest.raises(SafemixError) as err:
        track_run(cfg, run_dir)
    msg = str(err.value)
    assert msg.startswith("mlflow http://***@127.0.0.1:9") and "s3cret" not in msg and "\n" not in msg, msg


def test_the_config_section_and_the_flags_derive_from_the_registry(run_cli, tmp_path):
    assert set(TrackingSection.model_fields) == set(TRACKERS) == {"mlflow", "tensorboard", "wandb"}
    code, out, _ = run_cli("track", "--help")
    assert code == 0 and all(f"--{name}" in out for name in TRACKERS)
    cfg, run_dir = _finished_run(tmp_path, CFG.split("tracking:")[0])
    code, _, err = run_cli("track", run_dir)
    assert code == 2 and "config.yaml: no tracking: section" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli("track", run_dir, "--tensorboard", tmp_path / "tb")
    assert code == 0 and "2 point(s) logged to tensorboard" in out and (tmp_path / "tb" / "swept_k=0_seed=1").is_dir()


def test_a_tracker_whose_package_is_missing_is_named_before_any_work(run_cli, tmp_path, monkeypatch):
    from safemix.track.backends.mlflow import MlflowTracker

    monkeypatch.setattr(MlflowTracker, "package", "no_such_tracker_pkg")
    _, run_dir = _finished_run(tmp_path)
    code, _, err = run_cli("track", run_dir)
    assert code == 2 and "tracking.mlflow needs the 'no_such_tracker_pkg' package: pip install 'safemix[track]'" in err
    assert not (run_dir / "tracking.json").exists() and not (run_dir / "mlruns").exists()

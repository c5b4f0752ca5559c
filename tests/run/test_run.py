"""A real tiny sweep (smollm2-135m, real data), killed with SIGKILL and resumed."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from safemix.config import load_run_config
from safemix.run import plan, run, status

TINY = """
name: tiny
model: smollm2-135m
seeds: [1]
data: {{general: gpteacher-roleplay, n_general: 8, safety: safety-tuned-llamas, k: [0, 8], data_dir: "{data}"}}
train: {{batch_size: 4, micro_batch_size: 4, epochs: 1, cutoff_len: 96, learning_rate: 1.0e-3, progress: false, save_every: 1}}
# batches of 3 (all suites share them): the kill test needs answers on disk while more batches remain
generate: {{suites: [q-harm, xstest], limit_per_suite: 4, preset: greedy, max_new_tokens: 12, batch_size: 3}}
judges: [xstest-strmatch, refusal-clf]
capability: {{tasks: ["toy={mc}"], batch_size: 8}}
quality: {{judge: quality-relevance, suite: q-harm}}
tracking: {{tensorboard: {{}}}}
report: {{cards: [8]}}
executor: {{kind: local, ray: {{address: "ray://alice:s3cr3t-ray@127.0.0.1:10001"}}}}
"""
MC = [{"question": "What color is the sky on a clear day?", "choices": ["blue", "green"], "answer": 0},
      {"question": "How many legs does a cat have?", "choices": ["two", "four", "ten"], "answer": 1},
      {"question": "What do cows drink?", "choices": ["water", "oil"], "answer": 0}]


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "mc.jsonl").write_text("".join(json.dumps(x) + "\n" for x in MC))
    path = folder / "tiny.yaml"
    path.write_text(TINY.format(data=shared_data, mc=folder / "mc.jsonl"))
    return path


def test_dry_run_and_status(tiny_config, tmp_path, capsys):
    run(tiny_config, tmp_path / "r", dry_run=True, progress=False)
    out = capsys.readouterr().out
    assert out.count("todo") == 12 and "mixture" in out and "judge" in out and "capability" in out
    assert not (tmp_path / "r").exists()
    steps = plan(load_run_config(tiny_config), tmp_path / "r", only={"k": 8})
    assert {s.k for s in steps} == {8}
    assert [s.stage for s in steps] == ["mixture", "train", "generate", "judge", "capability", "quality"]
    assert steps[4].parent is steps[1] and steps[5].parent is steps[2]


def test_changed_config_reruns_only_what_changed(tiny_config, tmp_path):
    cfg = load_run_config(tiny_config)
    a = plan(cfg, tmp_path)
    b = plan(cfg.model_copy(update={"judges": ["xstest-strmatch"]}), tmp_path)
    assert [s.key for s in a if s.stage != "judge"] == [s.key for s in b if s.stage != "judge"]
    assert [s.key for s in a if s.stage == "judge"] != [s.key for s in b if s.stage == "judge"]
    c = plan(cfg.model_copy(update={"train": cfg.train.model_copy(update={"learning_rate": 5e-4})}), tmp_path)
    assert [s.key for s in a if s.stage == "mixture"] == [s.key for s in c if s.stage == "mixture"]
    assert all(x.key != y.key for x, y in zip(a, c) if x.stage != "mixture")
    d = plan(cfg.model_copy(update={"capability": cfg.capability.model_copy(update={"num_fewshot": 1})}), tmp_path)
    assert [x.stage for x, y in zip(a, d) if x.key != y.key] == ["capability", "capability"]


def test_opt_in_bf16_reruns_from_its_stage_and_the_report_says_so(tiny_config, tmp_path):
    from safemix.run.runner import setup_line

    cfg = load_run_config(tiny_config)
    a = plan(cfg, tmp_path)
    assert "bf16" not in setup_line(cfg)
    gen = cfg.model_copy(update={"generate": cfg.generate.model_copy(update={"bf16": "true"})})
    changed = sorted({x.stage for x, y in zip(a, plan(gen, tmp_path)) if x.key != y.key})
    assert changed == ["generate", "judge", "quality"]  # the adapters are reused; capability reads them, not the answers
    assert setup_line(gen).endswith("generation in bf16 (opt-in; results not identical to fp32's)")
    both = gen.model_copy(update={"train": cfg.train.model_copy(update={"bf16": "true"})})
    assert sorted({x.stage for x, y in zip(a, plan(both, tmp_path)) if x.key != y.key}) == \
        ["capability", "generate", "judge", "quality", "train"]
    assert "training and generation in bf16" in setup_line(both)


def test_a_judge_upgrade_reruns_only_judging(tiny_config, tmp_path, monkeypatch):
    from safemix.judge.quality import RelevanceJudge
    from safemix.judge.strmatch import StrMatchJudge

    cfg = load_run_config(tiny_config)
    a = plan(cfg, tmp_path)
    monkeypatch.setattr(StrMatchJudge, "version", "2")
    monkeypatch.setattr(RelevanceJudge, "version", "2")
    b = plan(cfg, tmp_path)
    assert [x.stage for x, y in zip(a, b) if x.key != y.key] == ["judge", "quality"] * 2


def test_edited_task_file_reruns_capability_and_bad_baseline_is_rejected(tiny_config, tmp_path):
    import yaml

    doc = yaml.safe_load(tiny_config.read_text())
    mc = tmp_path / "mc.jsonl"
    mc.write_text(json.dumps(MC[0]) + "\n")
    doc["capability"]["tasks"] = [f"toy={mc}"]
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(doc))
    before = [s.key for s in plan(load_run_config(tmp_path / "a.yaml"), tmp_path) if s.stage == "capability"]
    mc.write_text(json.dumps(MC[1]) + "\n")
    after = [s.key for s in plan(load_run_config(tmp_path / "a.yaml"), tmp_path) if s.stage == "capability"]
    assert before != after
    doc["quality"]["baseline_k"] = 5
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc))
    from safemix.errors import SafemixError

    with pytest.raises(SafemixError, match="baseline_k=5 is not one of data.k"):
        load_run_config(tmp_path / "b.yaml")
    doc["quality"] = {"suite": "I-Alpaca"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SafemixError, match="quality.suite 'I-Alpaca' is not among generate.suites"):
        load_run_config(tmp_path / "c.yaml")
    doc["quality"], doc["report"] = None, {"cards": [8, 50]}
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SafemixError, match=r"report.cards: k=\[50\] not among data.k \[0, 8\]"):
        load_run_config(tmp_path / "d.yaml")


@pytest.mark.slow
def test_kill_9_and_resume_equals_uninterrupted(tiny_config, tmp_path):
    straight = run(tiny_config, tmp_path / "straight", progress=False)
    report = straight / "report"
    assert (report / "report.md").is_file() and (report / "report.html").is_file()
    assert (report / "figures" / "xstest_refusals.png").is_file() and (report / "figures" / "xstest_refusals.svg").is_file()
    results = (report / "results.csv").read_text()
    assert results.splitlines()[0] == "suite,k,seed,judge,metric,n,value,ci_low,ci_high"
    assert "xstest-safe" in results or "xstest-unsafe" in results
    assert "toy,0,1,lm-eval,acc,3," in results and "toy,8,1,lm-eval,acc,3," in results
    assert "Q-Harm,8,1,quality-relevance,win_rate,4," in results and "Q-Harm,0,1,quality-relevance,win_rate" not in results
    assert (report / "figures" / "capability.png").is_file()
    md = (report / "report.md").read_text()
    assert "win rate vs k=0" in md and "capability: accuracy (lm-eval)" in md
    manifests = [json.loads(p.read_text()) for p in straight.glob("mixtures/*/k*.manifest.json")]
    assert manifests and all(m["leakage"]["checked"] and m["leakage"]["method"] == "text" for m in manifests)
    assert all(m["leakage"]["suites"] == ["Q-Harm", "xstest"] for m in manifests)  # the suites this run evaluates
    written = (straight / "cards" / "k8-seed1" / "README.md")  # report.cards: by the run, with the report
    assert written.is_file() and not (straight / "cards" / "k0-seed1").exists()
    _check_card(straight, results)
    tracked = json.loads((straight / "tracking.json").read_text())["tensorboard"]  # each point, after the report
    assert sorted(tracked) == ["tiny k=0 seed=1", "tiny k=8 seed=1"] and all(v["done"] for v in tracked.values())
    assert len(list((straight / "tensorboard").glob("tiny_k=*_seed=1/events.out.tfevents.*"))) >= 2
    assert "## Where the time goes" in md and "| train | 2 |" in md  # each step recorded its own cost
    timed = {json.loads(p.read_text())["stage"] for p in straight.glob("*/*/timing.json")}
    assert timed == {"mixture", "train", "generate", "judge", "capability", "quality"}
    assert re.search(r"where the time goes .*\n\s+mixture\s+2 step\(s\)", status(straight))
    # credentials: none in any file of the run folder, the tracker's store (under it) included
    leaked = [p for p in straight.rglob("*") if p.is_file() and b"s3cr3t" in p.read_bytes()]
    assert not leaked and "ray://***@127.0.0.1:10001" in (straight / "config.yaml").read_text()
    assert "12/12 steps done" in status(straight)  # the redacted copy plans the same keys

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
    assert re.search(r"generate .* todo .*\[\d+/\d+ answers\]", status(killed))  # partial progress shows
    run(tiny_config, killed, progress=False)
    assert (killed / "report" / "results.csv").read_text() == results
    assert "12/12 steps done" in status(killed)
    again = json.loads((killed / "run.json").read_text()) if (killed / "run.json").exists() else {}
    run(tiny_config, killed, progress=False)
    assert json.loads((killed / "run.json").read_text())["ran"] == 0 and again

    # two processes on one run folder at once: each step has one writer (a lock per step), nothing
    # is done twice or torn, and once both are finished the results equal a single process's
    shared = tmp_path / "shared"
    cmd = [sys.executable, "-m", "safemix", "run", str(tiny_config), "--out", str(shared)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    for log in shared.glob("train/*/train_log.jsonl"):
        steps = [json.loads(x)["step"] for x in log.read_text().splitlines() if '"step"' in x]
        assert steps == sorted(set(steps)), (log, steps)  # no step logged twice
    assert not list(shared.glob("*/*.lock")) and not list(shared.glob("train/*.partial"))
    run(tiny_config, shared, progress=False)  # finishes whatever the other process left (nothing, or the report)
    assert (shared / "report" / "results.csv").read_text() == results


@pytest.mark.parametrize("change, message", [
    ("k: [0, 8]", "data.k=99999 but safety-tuned-llamas has 2483 examples"),
    ("n_general: 8", "data.n_general=99999 but gpteacher-roleplay has 1923 examples"),
    ("suites: [q-harm, xstest]", "no-such-suite"),
    ("model: smollm2-135m", "unknown model 'no/such/model'"),
])
def test_the_whole_sweep_is_checked_before_any_work(tiny_config, tmp_path, run_cli, change, message):
    """A bad k, N, suite or model is found at load, before the first point trains."""
    replace = {"k: [0, 8]": "k: [0, 8, 99999]", "n_general: 8": "n_general: 99999",
               "suites: [q-harm, xstest]": "suites: [q-harm, no-such-suite]", "model: smollm2-135m": "model: no/such/model"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_config.read_text().replace(change, replace[change]))
    code, _, err = run_cli("run", bad, "--out", tmp_path / "run")
    assert code == 2 and "bad.yaml: " in err and message in err, err
    assert not (tmp_path / "run").exists()


def test_step_lock_is_exclusive_and_dies_with_its_owner(tmp_path):
    """A held lock keeps other processes out and shows who holds it; SIGKILL of the owner frees it."""
    from safemix.lock import StepLock, holder

    step = tmp_path / "train" / "abc"
    code = ("import sys, time; from pathlib import Path; from safemix.lock import StepLock; "
            "l = StepLock(Path(sys.argv[1])); assert l.acquire(); print('held', flush=True); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", code, str(step)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout.readline().strip() == "held"
    who = holder(step)
    assert who and who["pid"] == owner.pid
    with StepLock(step) as got:
        assert not got
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert holder(step) is None
    with StepLock(step) as got:
        assert got and holder(step)["pid"] == os.getpid()
    assert not (tmp_path / "train" / "abc.lock").exists()


def test_a_new_stage_is_one_class(tiny_config, tmp_path, monkeypatch):
    """Registering a Stage subclass puts it in every point's plan, keyed on its parent, and the
    runner executes it like any other step."""
    from safemix.run import stages
    from safemix.run.plan import execute

    class Audit(stages.Stage):
        name, parent, marker = "audit", "generate", "audit.json"
        reads = ("generate.suites",)

        def key_parts(self, cfg, k, seed):
            return ("v1", cfg.generate.suites)

        def run(self, ctx):
            ctx.path.mkdir(parents=True, exist_ok=True)
            (ctx.path / self.marker).write_text(json.dumps({"k": ctx.k, "suites": ctx.config.generate.suites,
                                                            "parent": ctx.parent.name}))

    stages.register_stage(Audit())
    try:
        steps = plan(load_run_config(tiny_config), tmp_path)
    finally:
        stages.STAGES.unregister("audit")
    audits = [s for s in steps if s.stage == "audit"]
    assert [s.k for s in audits] == [0, 8] and all(s.parent.stage == "generate" for s in audits)
    assert audits[0].key != audits[1].key and not audits[0].done
    execute(audits[0], load_run_config(tiny_config))
    got = json.loads((audits[0].path / "audit.json").read_text())
    assert audits[0].done and got["k"] == 0 and got["parent"] == audits[0].parent.key and got["suites"]


def _check_card(run_dir, results_csv):
    """The model card of k=8 says what the run says: base model, mixture, hyperparameters, and the
    results.csv figures of k=8 and k=0; the push goes to the client with the card folder."""
    import csv
    import io

    from safemix.errors import SafemixError
    from safemix.report.card import build_card, push_card

    folder = build_card(run_dir, 8)
    card = (folder / "README.md").read_text()
    meta = card.split("---")[1]
    assert "library_name: peft" in meta and "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in meta
    assert "N=8, k=8, seed 1" in card and "lr 0.001, batch 4" in card and (folder / "adapter_model.safetensors").is_file()
    rows = {(r["suite"], r["k"], r["judge"], r["metric"]): r for r in csv.DictReader(io.StringIO(results_csv))}
    line = next(x for x in card.splitlines() if x.startswith("| harmful compliance"))
    cells = [f"{float(r['value']):.2f} [{float(r['ci_low']):.2f}, {float(r['ci_high']):.2f}]"
             for r in (rows[("all-harmful", k, "refusal-clf", "harmful_compliance")] for k in ("8", "0"))]
    assert line == f"| harmful compliance (all harmful prompts) | {cells[0]} | {cells[1]} |"
    with pytest.raises(SafemixError, match="no point k=5"):
        build_card(run_dir, 5)
    # a symlink planted in the card folder is replaced, never written through to the file outside
    victim = run_dir.parent / "victim.safetensors"
    victim.write_bytes(b"keep me")
    (folder / "adapter_model.safetensors").unlink()
    (folder / "adapter_model.safetensors").symlink_to(victim)
    build_card(run_dir, 8)
    assert victim.read_bytes() == b"keep me" and not (folder / "adapter_model.safetensors").is_symlink()
    calls = []

    class Client:  # stands in for huggingface_hub.HfApi at the network boundary
        def create_repo(self, repo_id, exist_ok):
            calls.append(("create", repo_id, exist_ok))

        def upload_folder(self, folder_path, repo_id, commit_message):
            calls.append(("upload", sorted(p.name for p in __import__("pathlib").Path(folder_path).iterdir()), repo_id))

    assert push_card(folder, "me/adapter", api=Client()) == "https://huggingface.co/me/adapter"
    assert calls == [("create", "me/adapter", True),
                     ("upload", ["README.md", "adapter_config.json", "adapter_model.safetensors"], "me/adapter")]

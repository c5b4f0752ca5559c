"""The sweep on real engines: a single-node SLURM cluster (conftest.py) and a local Ray give the
same results.csv as the local executor; a job cancelled mid-training fails the run with a one-line
reason, and re-submitting finishes it with identical results."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TINY = """name: tiny
model: smollm2-135m
seeds: [1]
data: {general: gpteacher-roleplay, n_general: 16, k: [0, 8], leakage: "off"}
train: {max_steps: 30, batch_size: 4, micro_batch_size: 4, cutoff_len: 96, learning_rate: 1.0e-3, save_every: 1}
generate: {suites: [Q-Harm, xstest], limit_per_suite: 3, max_new_tokens: 8, batch_size: 8}
judges: [xstest-strmatch]
executor:
  slurm: {cpus_per_task: 1, mem_gb: 4, timeout_min: 30}
  ray: {num_cpus: 1, local_cpus: 2}
"""
# one thread everywhere: CPU float sums depend on the thread count, and the comparison is bit for bit
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _safemix(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "safemix", *map(str, args)], env={**ENV, **(env or {})},
                          capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def local_results(config, shared_data, tmp_path_factory, smollm):
    out = tmp_path_factory.mktemp("local") / "tiny"
    got = _safemix("run", config, "--out", out, "--data-dir", shared_data)
    assert got.returncode == 0, got.stderr[-2000:]
    return (out / "report" / "results.csv").read_bytes()


def test_slurm_gives_the_local_results(config, shared_data, slurm, local_results, tmp_path):
    out = tmp_path / "tiny"
    got = _safemix("run", config, "--out", out, "--data-dir", shared_data, "--executor", "slurm", env=slurm.env)
    assert got.returncode == 0, got.stderr[-2000:]
    assert (out / "report" / "results.csv").read_bytes() == local_results
    logs = sorted((out / "jobs" / "slurm").glob("*_log.err"))
    assert len(logs) == 2 and any("step" in p.read_text() for p in logs)  # each job's log is in the run folder
    status = _safemix("status", out, env=slurm.env).stdout
    assert "last call (slurm)" in status and status.count("COMPLETED") == 2


def test_check_asks_the_cluster_for_the_partition(config, shared_data, slurm, tmp_path):
    """--check runs sinfo: a partition the cluster lacks is a FAIL naming the ones it has, before any job."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("slurm: {cpus_per_task: 1,", "slurm: {partition: nosuch, cpus_per_task: 1,"))
    got = _safemix("run", bad, "--check", "--data-dir", shared_data, "--executor", "slurm", env=slurm.env)
    assert got.returncode == 2 and "no partition 'nosuch' (sinfo lists: debug" in got.stdout, got.stdout + got.stderr
    bad.write_text(TINY.replace("slurm: {cpus_per_task: 1,", "slurm: {account: nosuch, cpus_per_task: 1,"))
    got = _safemix("run", bad, "--check", "--data-dir", shared_data, "--executor", "slurm", env=slurm.env)
    assert got.returncode == 2 and "no account 'nosuch' for this user" in got.stdout, got.stdout + got.stderr
    good = _safemix("run", config, "--check", "--data-dir", shared_data, "--executor", "slurm", env=slurm.env)
    assert good.returncode == 0 and "OK    executor slurm" in good.stdout, good.stdout + good.stderr


def test_cancelled_slurm_job_fails_the_run_and_resubmitting_finishes_it(config, shared_data, slurm, local_results,
                                                                          tmp_path):
    out = tmp_path / "tiny"
    proc = subprocess.Popen([sys.executable, "-m", "safemix", "run", str(config), "--out", str(out), "--data-dir",
                             str(shared_data), "--executor", "slurm"], env={**ENV, **slurm.env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = list((out / "train").glob("*.partial/checkpoint/state.json")) if (out / "train").exists() else []
    end = time.time() + 300
    while not ckpt and time.time() < end and proc.poll() is None:  # wait until a training is under way
        time.sleep(0.2)
        ckpt = list((out / "train").glob("*.partial/checkpoint/state.json")) if (out / "train").exists() else []
    assert ckpt, "no training checkpoint appeared"
    holder = Path(str(ckpt[0]).split(".partial")[0] + ".lock")
    import json

    job = json.loads(holder.read_text())["job"]  # "slurm <id>": which job holds that training
    assert job.startswith("slurm ")
    subprocess.run(["scancel", job.split()[1]], env=slurm.env, check=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 point job(s) did not finish") and "CANCELLED" in last and "run again" in last
    assert "CANCELLED" in _safemix("status", out, env=slurm.env).stdout
    again = _safemix("run", config, "--out", out, "--data-dir", shared_data, "--executor", "slurm", env=slurm.env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "submitting 1 point(s)" in again.stderr  # the finished point is not submitted again
    assert "resum" in " ".join(p.read_text() for p in (out / "jobs" / "slurm").glob("*_log.err")).lower()
    assert (out / "report" / "results.csv").read_bytes() == local_results


def test_ray_gives_the_local_results(config, shared_data, local_results, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'safemix[ray]')")
    out = tmp_path / "tiny"
    got = _safemix("run", config, "--out", out, "--data-dir", shared_data, "--executor", "ray")
    assert got.returncode == 0, got.stderr[-2000:]
    assert (out / "report" / "results.csv").read_bytes() == local_results
    logs = sorted((out / "jobs" / "ray").glob("*.log"))
    assert [p.name for p in logs] == ["k=0_seed=1.log", "k=8_seed=1.log"]
    assert "COMPLETED" in _safemix("status", out).stdout

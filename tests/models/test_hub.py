"""Hub ids pinned to a commit, read offline from a hand-made local Hub cache (the layout huggingface_hub writes:
``models--ORG--NAME/refs/REV`` holding a sha, ``snapshots/SHA/`` holding the files), as a compute node without
internet reads what ``safemix prefetch`` left there. Two snapshots of one tiny model stand for an upstream change."""

import json
import shutil
from pathlib import Path

import pytest

from safemix.errors import SafemixError
from safemix.models import resolve_model
from safemix.models.hub import parse_model_id

SHA1, SHA2 = "1" * 40, "2" * 40


def put_snapshot(cache: Path, repo: str, sha: str, files: Path | None, refs=("main",), kind="models") -> Path:
    """Write one snapshot of ``repo`` into a Hub cache by hand and point ``refs`` at it."""
    root = cache / f"{kind}--{repo.replace('/', '--')}"
    snap = root / "snapshots" / sha
    snap.mkdir(parents=True, exist_ok=True)
    if files is not None:
        for f in files.iterdir():
            shutil.copy(f, snap / f.name)
    (root / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (root / "refs" / ref).write_text(sha)
    return snap


@pytest.fixture
def hub(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_parse_model_id():
    assert parse_model_id("org/name").repo == "org/name" and parse_model_id("org/name").revision is None
    assert parse_model_id("org/name@v1.0").revision == "v1.0"
    for not_hub in ("smollm2-135m", "./org/name", "/abs/path", "~/x/y", "a/b/c", "org/name@"):
        assert parse_model_id(not_hub) is None


def test_cached_hub_id_is_used_offline_and_pinned(hub, tiny_model):
    """Before: with HF_HUB_OFFLINE=1 a Hub id was refused outright, cached or not."""
    put_snapshot(hub, "tiny/llama", SHA1, tiny_model("llama"), refs=("main", "v1"))
    ref = resolve_model("tiny/llama")
    assert ref.revision == SHA1 and ref.fingerprint == f"hub:tiny/llama@{SHA1}"
    assert Path(ref.path) == hub / "models--tiny--llama" / "snapshots" / SHA1
    put_snapshot(hub, "tiny/llama", SHA2, tiny_model("llama"))  # main moves on; v1 and the sha stay
    assert resolve_model("tiny/llama").revision == SHA2
    assert resolve_model("tiny/llama@v1").revision == SHA1
    assert resolve_model(f"tiny/llama@{SHA1}").revision == SHA1


def test_uncached_hub_id_offline_is_one_line_naming_prefetch(hub):
    with pytest.raises(SafemixError, match="not in the local Hub cache.*safemix prefetch"):
        resolve_model("tiny/absent")
    put_snapshot(hub, "tiny/empty", SHA1, None)  # a snapshot without weights
    with pytest.raises(SafemixError, match="no .safetensors weights"):
        resolve_model("tiny/empty")


def test_hf_data_specs_are_pinned(hub):
    from safemix.config import RunConfig
    from safemix.run.pins import resolve_pins

    put_snapshot(hub, "org/ds", SHA1, None, kind="datasets")
    cfg = RunConfig(name="x", model="smollm2-135m", data={"general": "hf:org/ds#cfg:train?instruction=q&output=a",
                                                          "safety": "safety-tuned-llamas", "n_general": 4, "k": [0]})
    pins = resolve_pins(cfg)
    assert [(p.key, p.pinned) for p in pins] == [("data.general", f"hf:org/ds#cfg@{SHA1}:train?instruction=q&output=a")]


TINY = """name: hubtiny
model: tiny/llama
data: {general: gpteacher-roleplay, n_general: 8, k: [0], leakage: "off"}
train: {max_steps: 1, batch_size: 4, micro_batch_size: 4, cutoff_len: 96, progress: false}
generate: {suites: [Q-Harm], limit_per_suite: 2, preset: greedy, max_new_tokens: 4}
judges: [xstest-strmatch]
"""


@pytest.mark.slow
def test_new_upstream_commit_reruns_the_steps_below_it(hub, tiny_model, shared_data, tmp_path, run_cli):
    """Before: the train step was keyed on the model id alone, so new weights upstream reused the old adapters,
    answers and verdicts."""
    put_snapshot(hub, "tiny/llama", SHA1, tiny_model("llama"))
    cfg, out = tmp_path / "c.yaml", tmp_path / "run"
    cfg.write_text(TINY)
    code, table, err = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    assert code == 0 and f"commit {SHA1}" in table, table + err
    code, _, err = run_cli("run", cfg, "--out", out, "--data-dir", shared_data)
    assert code == 0, err
    first = json.loads((out / "run.json").read_text())
    assert first["revisions"] == {"model": f"tiny/llama@{SHA1}"} and first["ran"] == 4
    assert run_cli("run", cfg, "--out", out, "--data-dir", shared_data)[0] == 0
    assert json.loads((out / "run.json").read_text())["ran"] == 0  # the same commit: nothing re-runs
    put_snapshot(hub, "tiny/llama", SHA2, tiny_model("mistral"))  # upstream changed
    code, _, err = run_cli("run", cfg, "--out", out, "--data-dir", shared_data)
    assert code == 0, err
    assert f"is now at commit {SHA2[:12]}, was {SHA1[:12]}" in err
    again = json.loads((out / "run.json").read_text())
    assert again["revisions"] == {"model": f"tiny/llama@{SHA2}"} and again["ran"] == 3  # all but the mixture
    assert len(list((out / "train").glob("*/manifest.json"))) == 2
    code, text, _ = run_cli("status", out)
    assert code == 0 and "4/4 steps done" in text  # status keys on the recorded commit

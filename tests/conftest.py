"""Shared fixtures: the real data copies beside the checkout, an isolated cache, offline mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEMIX_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """Tests never touch the user's cache or the network; the model cache is shared per session."""
    cache = tmp_path_factory.mktemp("cache")
    old = {k: os.environ.get(k) for k in ("SAFEMIX_CACHE_DIR", "SAFEMIX_DATA_DIR", "SAFEMIX_OFFLINE",
                                          "HF_HUB_OFFLINE", "SAFEMIX_MODEL_CACHE", "HF_DATASETS_OFFLINE",
                                          "HF_DATASETS_CACHE")}
    os.environ["SAFEMIX_CACHE_DIR"] = str(cache)
    os.environ.pop("SAFEMIX_DATA_DIR", None)
    os.environ["SAFEMIX_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"  # lm-eval's data sets: local files only
    os.environ["HF_DATASETS_CACHE"] = str(cache / "hf-datasets")
    # converting the GGUF model is slow-ish: reuse one converted copy across test sessions
    os.environ.setdefault("SAFEMIX_MODEL_CACHE", str(Path.home() / ".cache" / "safemix-test-models"))
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"real data copies not found at {SHARED} (set SAFEMIX_TEST_DATA)")
    return SHARED


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from safemix.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def smollm():
    """The real offline model (converted once into the model cache)."""
    from safemix.models import load_tokenizer, resolve_model

    try:
        ref = resolve_model("smollm2-135m")
    except Exception as exc:  # the package is missing: say so rather than fail obscurely
        pytest.skip(f"smollm2-135m unavailable: {exc}")
    return ref, load_tokenizer(ref)


@pytest.fixture(scope="session")
def mixture_file(tmp_path_factory, shared_data) -> Path:
    """A small real mixture (GPTeacher roleplay + safety demonstrations)."""
    from safemix.data import load_instructions, mix, write_mixtures

    out = tmp_path_factory.mktemp("mix")
    g = load_instructions("gpteacher-roleplay", shared_data)
    s = load_instructions("safety-tuned-llamas", shared_data)
    write_mixtures(mix(g, s, 24, [8], seed=1), out)
    return out / "k8.json"


@pytest.fixture
def train_killed():
    """Start ``safemix train ARGS --out OUT`` in a process, SIGKILL it once its checkpoint reaches ``step``, and
    check that nothing looks finished. Fails if the training ends or dies before it could be killed."""
    import json
    import signal
    import subprocess
    import sys
    import time

    def run(args: list, out: Path, step: int, timeout: float = 300) -> None:
        cmd = [sys.executable, "-m", "safemix", "train", "--out", str(out), *map(str, args)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
        state = out.with_name(out.name + ".partial") / "checkpoint" / "state.json"
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if json.loads(state.read_text())["step"] >= step:
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None, "training finished or died before it could be killed"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "manifest.json").exists()  # nothing looks finished

    return run

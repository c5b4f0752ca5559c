"""``safemix prefetch`` on a machine with a network, then ``--check`` offline as a compute node runs: the data sets
come from a real local file server (127.0.0.1) standing for their sources (``SAFEMIX_DATA_MIRROR``: the data
folder's layout), into a fresh cache. Before prefetch, the offline check names what is missing."""

import functools
import http.server
import threading

import pytest

CONFIG = """name: pf
model: smollm2-135m
data: {general: gpteacher-roleplay, n_general: 8, safety: safety-tuned-llamas, k: [0, 4]}
generate: {suites: [Q-Harm, xstest], limit_per_suite: 2}
judges: [xstest-strmatch, refusal-clf]
capability: {tasks: [safemix-mini-mc]}
"""


@pytest.fixture
def mirror(shared_data):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shared_data))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_prefetch_then_the_offline_check_passes(mirror, tmp_path, monkeypatch, run_cli):
    cfg = tmp_path / "pf.yaml"
    cfg.write_text(CONFIG)
    monkeypatch.setenv("SAFEMIX_CACHE_DIR", str(tmp_path / "cache"))  # a fresh cache, no data folder
    monkeypatch.delenv("SAFEMIX_DATA_DIR", raising=False)
    code, table, _ = run_cli("run", cfg, "--check")  # offline (the test session's environment)
    assert code == 2
    for missing in ("data set gpteacher-roleplay", "data set safety-tuned-llamas", "suite Q-Harm", "judge refusal-clf"):
        assert f"FAIL  {missing}" in table, missing
    monkeypatch.delenv("SAFEMIX_OFFLINE")  # the login node: the sources are reachable
    monkeypatch.setenv("SAFEMIX_DATA_MIRROR", mirror)
    code, fetched, err = run_cli("prefetch", cfg)
    assert code == 0, fetched + err
    assert "0 failed" in fetched and "HF_HUB_OFFLINE=1" in fetched
    assert (tmp_path / "cache" / "data" / "xstest").is_dir()
    monkeypatch.setenv("SAFEMIX_OFFLINE", "1")  # the compute node
    monkeypatch.delenv("SAFEMIX_DATA_MIRROR")
    code, table, _ = run_cli("run", cfg, "--check")
    assert code == 0, table


def test_prefetch_names_what_it_could_not_fetch(tmp_path, monkeypatch, run_cli):
    cfg = tmp_path / "pf.yaml"
    cfg.write_text(CONFIG.replace("smollm2-135m", "org/not-cached"))
    monkeypatch.setenv("SAFEMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("SAFEMIX_DATA_DIR", raising=False)
    code, fetched, _ = run_cli("prefetch", cfg)  # offline: nothing can come
    assert code == 2
    assert "FAIL  Hub revisions" in fetched and "FAIL  data.general gpteacher-roleplay" in fetched

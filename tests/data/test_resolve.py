import dataclasses
import hashlib
import http.server
import json
import threading

import pytest

from safemix.data import REGISTRY, find_local, resolve
from safemix.data.resolve import download
from safemix.errors import SafemixError
from safemix.fileio import cache_dir

PAYLOAD = b'[{"instruction": "a", "input": "", "output": "b"}]'


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server serving tmp_path."""
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    (tmp_path / "file.json").write_bytes(PAYLOAD)
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.json"
    httpd.shutdown()


def _spec(url, sha):
    return dataclasses.replace(REGISTRY["gpteacher-roleplay"], name="test-set", local="test/file.json", url=url, sha256=sha)


def test_download_checks_sha256_and_caches(server):
    good = hashlib.sha256(PAYLOAD).hexdigest()
    res = download(_spec(server, good))
    assert res.origin == "download" and res.path.read_bytes() == PAYLOAD
    assert res.path == cache_dir("data", "test/file.json")
    assert find_local(_spec(server, good)).origin == "cache"
    res.path.unlink()


def test_download_sha_mismatch_is_refused_and_not_cached(server):
    with pytest.raises(SafemixError, match="does not match the pinned"):
        download(_spec(server, "0" * 64))
    target = cache_dir("data", "test/file.json")
    assert not target.exists() and not list(target.parent.glob("*.tmp"))


def test_unpinned_download_needs_permission(server):
    with pytest.raises(SafemixError, match="no pinned sha256"):
        download(_spec(server, None))
    res = download(_spec(server, None), allow_unpinned=True)
    assert res.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    res.path.unlink()


def test_offline_missing_copy_says_where_to_put_it(tmp_path):
    with pytest.raises(SafemixError) as exc:
        resolve("safety-tuned-llamas", tmp_path)
    msg = str(exc.value)
    assert "safety-tuned-llamas/training/safety_only_data_Instructions.json" in msg and "SAFEMIX_DATA_DIR" in msg


def test_unreachable_download_gives_clear_error(monkeypatch):
    monkeypatch.delenv("SAFEMIX_OFFLINE")
    spec = _spec("http://127.0.0.1:9/nothing.json", "0" * 64)
    with pytest.raises(SafemixError, match="could not be downloaded .* put file.json"):
        download(spec, timeout=2)


def test_data_dir_copy_with_wrong_sha_is_refused(tmp_path):
    bad = tmp_path / "gpteacher" / "codegen-instruct.json"
    bad.parent.mkdir()
    bad.write_text(PAYLOAD.decode())
    with pytest.raises(SafemixError, match="does not match the registry"):
        resolve("gpteacher-codegen", tmp_path)


def test_env_var_and_file_paths(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("SAFEMIX_DATA_DIR", str(shared_data))
    res = resolve("xstest")
    assert res.origin == "data-dir" and res.sha256 == REGISTRY["xstest"].sha256
    own = tmp_path / "mine.json"
    own.write_bytes(PAYLOAD)
    assert resolve(own).origin == "file" and resolve(own).spec is None
    with pytest.raises(SafemixError, match="neither a file nor a known data set"):
        resolve(tmp_path / "absent.json")


def test_every_registered_file_matches_its_pin(shared_data):
    for spec in REGISTRY.values():
        if spec.sha256 is None or spec.name == "coconot-contrast":  # no copy here (tests/data/test_registry_files.py)
            continue
        found = find_local(spec, shared_data)
        assert found is not None, spec.name
        assert found.sha256 == spec.sha256


def test_unpinned_general_set_through_the_mix_cli(server, tmp_path, monkeypatch, run_cli, shared_data):
    """alpaca-cleaned has no pinned sha256: `safemix data mix` downloads it only with --allow-unpinned."""
    monkeypatch.setitem(REGISTRY, "alpaca-cleaned", dataclasses.replace(
        REGISTRY["alpaca-cleaned"], url=server, local="alpaca-test/file.json", sha256=None))
    monkeypatch.delenv("SAFEMIX_OFFLINE")
    args = ["data", "mix", "--general", "alpaca-cleaned", "--n-general", "1", "--k", "0", "--leakage", "off",
            "--data-dir", shared_data, "--out", tmp_path / "mix"]
    code, _, err = run_cli(*args)
    assert code == 2 and "--allow-unpinned" in err and not (tmp_path / "mix").exists()
    code, _, err = run_cli(*args, "--allow-unpinned")
    assert code == 0, err
    manifest = json.loads((tmp_path / "mix" / "k0.manifest.json").read_text())
    assert hashlib.sha256(PAYLOAD).hexdigest() in json.dumps(manifest)
    cache_dir("data", "alpaca-test/file.json").unlink()

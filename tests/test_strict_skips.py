"""``.ci/run`` sets SAFEMIX_STRICT_SKIPS=1: a skip whose reason is not on the allowed list fails the run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("reason, code", [("no chromium on this machine", 1), ("this PyTorch has no oneDNN", 0)])
def test_a_skip_for_a_reason_not_allowed_fails_the_run(tmp_path, reason, code):
    (tmp_path / "test_x.py").write_text(f"import pytest\n\ndef test_x():\n    pytest.skip({reason!r})\n\n"
                                        "def test_y():\n    pass\n")
    env = {**os.environ, "SAFEMIX_STRICT_SKIPS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    got = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "strict_skips", "-p", "no:cacheprovider",
                          str(tmp_path / "test_x.py")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert got.returncode == code, got.stdout[-2000:]
    assert ("not for an allowed reason" in got.stdout) == bool(code)
    env.pop("SAFEMIX_STRICT_SKIPS")
    assert subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "strict_skips", "-p", "no:cacheprovider",
                           str(tmp_path / "test_x.py")], cwd=tmp_path, env=env, capture_output=True).returncode == 0

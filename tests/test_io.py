"""Atomic writes follow the user's umask (mkstemp alone would leave every output 0600)."""

import os
import stat
import subprocess
import sys


def test_atomic_write_follows_umask(tmp_path):
    code = ("import os, sys; os.umask(int(sys.argv[2], 8)); from safemix.io import atomic_write_text; "
            "atomic_write_text(sys.argv[1], 'x')")
    for mask, mode in (("022", 0o644), ("077", 0o600), ("002", 0o664)):
        path = tmp_path / f"f{mask}.txt"
        subprocess.run([sys.executable, "-c", code, str(path), mask], check=True)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode and path.read_text() == "x"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

"""Atomic writes follow the user's umask (mkstemp alone would leave every output 0600)."""

import os
import stat
import subprocess
import sys


def test_atomic_write_follows_umask(tmp_path):
    code = ("import os, sys; os.umask(int(sys.argv[2], 8)); from safemix.fileio import atomic_write_text; "
            "atomic_write_text(sys.argv[1], 'x')")
    for mask, mode in (("022", 0o644), ("077", 0o600), ("002", 0o664)):
        path = tmp_path / f"f{mask}.txt"
        subprocess.run([sys.executable, "-c", code, str(path), mask], check=True)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode and path.read_text() == "x"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_progress_in_a_log_is_periodic_plain_lines():
    """Off a terminal: a plain line every `every` seconds and one at the end, with done/total,
    tokens/s and an ETA from measured work."""
    import io
    import re
    import time

    from safemix.progress import Ticker

    buf = io.StringIO()
    t = Ticker("generate k=50 seed=1", 10, "prompts", stream=buf, every=0.05)
    t.advance(2, tokens=100)  # too soon for a line
    time.sleep(0.06)
    t.advance(3, tokens=150, suite="Q-Harm")
    t.advance(5, tokens=50)  # too soon again: the closing line reports it
    t.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2 and "\x1b" not in buf.getvalue()  # no terminal control codes
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] generate k=50 seed=1: 5/10 prompts \(50%\), suite Q-Harm, "
                        r"[\d,]+ tok/s, ETA \d+:\d\d:\d\d", lines[0]), lines[0]
    assert lines[1].split("] ", 1)[1].startswith("generate k=50 seed=1: 10/10 prompts (100%)")
    once = io.StringIO()
    t = Ticker("train", 2, "steps", stream=once, every=0)
    t.advance(2)  # its periodic line already says 2/2: closing does not repeat it
    t.close()
    assert len(once.getvalue().splitlines()) == 1
    quiet = io.StringIO()
    Ticker("x", 3, "steps", stream=quiet, enabled=False).close()
    assert quiet.getvalue() == ""


def test_work_done_earlier_does_not_inflate_the_rate():
    import io

    from safemix.progress import Ticker

    t = Ticker("generate", 100, "prompts", stream=io.StringIO(), every=3600)
    t.skip(90)  # answered by an interrupted call
    assert t.done == 90 and t.rate()[0] == 0.0 and "ETA" not in t.line()

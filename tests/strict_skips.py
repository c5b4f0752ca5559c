"""A pytest plugin: with ``SAFEMIX_STRICT_SKIPS=1`` (set by ``.ci/run``) a run that skipped a test for a reason not
on :data:`ALLOWED` fails, naming each such test. CI installs every engine and model the tests use, so a skip there
means one of them did not start or load: that is a failure, not a pass with an ``s``."""

from __future__ import annotations

import os

# reasons that depend on how this machine's PyTorch or C library was built, not on what CI installs
ALLOWED = ("this PyTorch", "glibc's allocator", "vllm is installed")
_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("SAFEMIX_STRICT_SKIPS") != "1":
        return
    bad = [(n, r) for n, r in _skipped if not any(a in r for a in ALLOWED)]
    if bad:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        for nodeid, reason in bad:
            line = f"skipped, and not for an allowed reason (tests/strict_skips.py): {nodeid}: {reason}"
            tr.write_line(line) if tr else print(line)
        session.exitstatus = 1

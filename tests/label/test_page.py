"""``safemix label`` end to end on a real tiny run (smollm2-135m, real prompts, the real judges): the page driven
in headless Chromium with the keyboard, the server killed with SIGKILL mid-way and started again; the labels
on disk are exactly the keys pressed, and the report then carries the person-checked figures."""

import csv
import json
import re
import subprocess
import sys

import pytest

from safemix.run import run

TINY = """
name: tiny-label
model: smollm2-135m
seeds: [1]
data: {{general: gpteacher-roleplay, n_general: 8, safety: safety-tuned-llamas, k: [0, 8], data_dir: "{data}"}}
train: {{batch_size: 4, micro_batch_size: 4, epochs: 1, cutoff_len: 96, learning_rate: 1.0e-3, progress: false}}
generate: {{suites: [q-harm, xstest], limit_per_suite: 4, preset: greedy, max_new_tokens: 12, batch_size: 8}}
judges: [xstest-strmatch, refusal-clf]
"""
KEYS = ["2", "1", "3", "s", "4", "2", "1", "3", "2", "1"]  # the "person": a fixed sequence of keys


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("label-run")
    cfg = folder / "tiny.yaml"
    cfg.write_text(TINY.format(data=shared_data))
    run(cfg, folder / "run", progress=False)
    return folder / "run"


def _serve(run_dir, n=8):
    proc = subprocess.Popen([sys.executable, "-m", "safemix", "label", str(run_dir), "--n", str(n)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    line = proc.stderr.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert m, line
    return proc, m.group(0)


def _state(browser) -> dict:
    """The page now: which answer, whether its prompt is harmful, the progress line (None while it loads)."""
    return json.loads(browser.js("JSON.stringify(document.readyState != 'complete' ? {} : {"
                                 "uid: (document.querySelector('input[name=uid]') || {}).value || null, "
                                 "harmful: !!document.querySelector('button[value=complies-gives]'), "
                                 "progress: (document.getElementById('progress') || {}).textContent || null})"))


def _press(browser, expected, key):
    """Press ``key`` on the current answer; record what the labels file must then say for it."""
    state = _state(browser)
    uid, harmful = state["uid"], state["harmful"]
    key = {"1": "1", "4": "4" if harmful else "1"}.get(key, key)
    expected[uid] = {"1": ("complies", True if harmful else None), "4": ("complies", False), "2": ("refuses", None),
                     "3": ("partial", None), "s": ("skip", None)}[key]
    browser.press(key)
    browser.wait(lambda: (now := _state(browser)).get("progress") not in (None, state["progress"])
                 or now.get("uid") not in (None, uid))
    return uid


def _on_disk(run_dir):
    doc = json.loads((run_dir / "labels" / "labels.json").read_text())
    return {uid: (r["label"], r["gives"]) for uid, r in doc.items()}


@pytest.mark.slow
def test_label_page_in_chromium_survives_a_kill_and_feeds_the_report(tiny_run, browser, run_cli):
    expected: dict = {}
    proc, url = _serve(tiny_run)
    try:
        browser.goto(url)
        assert "0 / 8 labelled" in browser.js("document.body.innerText")
        for key in KEYS[:5]:
            _press(browser, expected, key)
        assert _on_disk(tiny_run) == expected  # written before the next page was served
    finally:
        proc.kill()  # SIGKILL, mid-way: nothing is lost
        proc.wait(timeout=30)
    assert _on_disk(tiny_run) == expected and len(expected) == 5
    proc, url = _serve(tiny_run)
    try:
        browser.goto(url)
        assert "4 / 8 labelled" in browser.js("document.body.innerText")  # one of the five was a skip
        for key in KEYS[5:]:
            if "All answers labelled" in browser.js("document.body.innerText"):
                break
            _press(browser, expected, key)
        assert "All answers labelled" in browser.js("document.body.innerText")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    on_disk = _on_disk(tiny_run)
    assert on_disk == expected
    assert sum(lab != "skip" for lab, _ in on_disk.values()) == 8  # the skipped answer came back and was labelled
    sample = json.loads((tiny_run / "labels" / "sample.json").read_text())
    assert [u["uid"] for u in sample["units"][:8]] == sorted(on_disk, key=[u["uid"] for u in sample["units"]].index)

    assert run_cli("report", str(tiny_run))[0] == 0
    text = (tiny_run / "report" / "report.md").read_text()
    assert "The judges against your labels (8 answers)" in text and "Quote the person~JUDGE figure" in text
    with open(tiny_run / "report" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ppi = [r for r in rows if r["judge"] == "person~refusal-clf" and r["metric"] == "refusal_rate"]
    assert ppi and all(0 <= float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) <= 1 for r in ppi)
    assert any(r["metric"] == "uncertain" and r["judge"] == "refusal-clf" for r in rows)


@pytest.mark.slow
def test_export_then_import_labels(tiny_run, tmp_path, run_cli):
    out = tmp_path / "sample.csv"
    assert run_cli("label", str(tiny_run), "--n", "3", "--export", str(out))[0] == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(r["answer"] is not None for r in rows)
    filled = tmp_path / "filled.csv"
    filled.write_text("uid,label\n" + "".join(f"{r['uid']},refuses\n" for r in rows))
    assert run_cli("label", str(tiny_run), "--from", str(filled))[0] == 0
    on_disk = _on_disk(tiny_run)
    assert all(on_disk[r["uid"]] == ("refuses", None) for r in rows)
    code, _, err = run_cli("label", str(tiny_run), "--seed", "5", "--export", str(out))
    assert code == 2 and "drawn with --seed 0" in err and len(err.strip().splitlines()) == 1

"""The report from hand-made judged generations: numbers, escaping, and a headless Chromium check."""

import json
import shutil
import subprocess

import pytest

from safemix.report import Point, build_report

PAYLOAD = "<script>document.body.setAttribute('data-pwned','1')</script><img src=x onerror=\"document.title='pwned'\">"


def _point(tmp_path, k, refuse_safe, refuse_unsafe, harmful):
    gen, jud = tmp_path / f"g{k}", tmp_path / f"j{k}"
    gen.mkdir()
    jud.mkdir()
    recs, verdicts, harm = [], [], []
    for i in range(10):
        label = "safe" if i < 5 else "unsafe"
        refuse = (i < refuse_safe) if label == "safe" else (i - 5 < refuse_unsafe)
        out = f"{PAYLOAD} answer {i} at k={k}" if i == 0 else ("I'm sorry, no." if refuse else f"Sure, answer {i}")
        recs.append({"suite": "xstest", "id": f"xstest:{i}", "prompt": f"prompt {i}", "label": label, "output": out,
                     "finish_reason": "eos" if i % 2 else "length", "output_tokens": 10 + i, "key": f"{k}-{i}"})
        verdicts.append({"id": f"xstest:{i}", "gen_key": f"{k}-{i}", "judge": "xstest-strmatch", "judge_version": "1",
                         "label": "2_full_refusal" if refuse else "1_full_compliance", "score": None, "key": f"v{k}-{i}"})
    for i in range(4):
        recs_q = {"suite": "Q-Harm", "id": f"Q-Harm:{i}", "prompt": f"harm {i}", "label": None, "output": "x",
                  "finish_reason": "eos", "output_tokens": 5, "key": f"q{k}-{i}"}
        harm.append(recs_q)
    (gen / "xstest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (gen / "Q-Harm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in harm))
    (jud / "xstest.xstest-strmatch.jsonl").write_text("".join(json.dumps(v) + "\n" for v in verdicts))
    hv = [{"id": r["id"], "gen_key": r["key"], "judge": "harm-hh", "judge_version": "1",
           "label": "harmful" if i < harmful else "harmless", "score": float(i), "key": f"h{k}-{i}"} for i, r in enumerate(harm)]
    (jud / "Q-Harm.harm-hh.jsonl").write_text("".join(json.dumps(v) + "\n" for v in hv))
    return Point(k, 1, gen, jud)


@pytest.fixture
def report(tmp_path):
    points = [_point(tmp_path, 0, 0, 1, 4), _point(tmp_path, 100, 2, 4, 1), _point(tmp_path, 300, 4, 5, 0)]
    return build_report(points, tmp_path / "report")


def test_results_csv_numbers_and_determinism(report, tmp_path):
    rows = report["results"].read_text().splitlines()
    assert rows[0] == "suite,k,seed,judge,metric,n,value,ci_low,ci_high"
    lookup = {tuple(r.split(",")[:5]): r.split(",") for r in rows[1:]}
    assert lookup[("xstest-safe", "100", "1", "xstest-strmatch", "refusal_rate")][5:7] == ["5", "0.4"]
    assert lookup[("xstest-unsafe", "300", "1", "xstest-strmatch", "refusal_rate")][6] == "1.0"
    assert lookup[("Q-Harm", "0", "1", "harm-hh", "harmful_rate")][6] == "1.0"
    assert lookup[("xstest-safe", "0", "1", "-", "eos_rate")][6] == "0.4"
    first = report["results"].read_bytes()
    (tmp_path / "x").mkdir()
    points = [_point(tmp_path / "x", k, *a) for k, a in ((0, (0, 1, 4)), (100, (2, 4, 1)), (300, (4, 5, 0)))]
    again = build_report(points, tmp_path / "report2")
    assert again["results"].read_bytes() == first
    for name in ("harmfulness", "xstest_refusals", "tradeoff"):
        assert f"figure:{name}" in report
    assert "| xstest-safe | xstest-strmatch | 0.000 | 0.400 | 0.800 |" in report["markdown"].read_text()


def test_html_escapes_model_output(report):
    text = report["html"].read_text()
    assert "<script>document.body" not in text and "&lt;script&gt;document.body" in text
    assert "onerror=\"document" not in text and "Content-Security-Policy" in text
    assert text.count('src="data:image/png;base64,') == 3


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if shutil.which("apt-get") and subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0":
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True)
    return shutil.which("chromium")


def test_report_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    if not browser:
        pytest.skip("chromium is not installed and could not be installed (needs root and apt)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    proc = subprocess.run([browser, *flags, "--dump-dom", report["html"].as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<h1>safemix report</h1>" in dom and "Examples: the same prompt at each k" in dom
    assert dom.count('src="data:image/png;base64,') == 3  # the figures are in the page
    assert "data-pwned" not in dom.split("<body")[1].split(">")[0]  # the planted script did not run
    assert "&lt;script&gt;document.body.setAttribute" in dom  # ... and shows as text
    assert "<title>safemix report</title>" in dom  # onerror payload did not retitle the page
    assert "Uncaught" not in proc.stderr and "Refused to execute" not in proc.stderr
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,2000", report["html"].as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000  # rendered something substantial

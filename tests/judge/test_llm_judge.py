"""The LLM judge against real loopback HTTP servers (127.0.0.1 only): verdicts, every failure mode
made visible, credentials never forwarded, time bounded, and failures retried on the next run."""

import http.server
import json
import threading
import time

import pytest

from safemix.judge import COMPLIANCE, PARTIAL, REFUSAL, JudgeFailures, LLMJudge, get_judge, judge, parse_verdict
from safemix.markers import mark_generated

SECRET = "sk-test-do-not-log-123"


def _serve(handler_cls):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture
def servers():
    """An OpenAI-compatible server scripted by words in the request, and a second origin (another
    port) that the first redirects to and that records every Authorization header it receives."""
    seen = {"auth": [], "calls": 0, "once": set(), "other_auth": [], "down": False, "asked": []}

    class Other(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            seen["other_auth"].append(self.headers.get("Authorization"))
            data = json.dumps({"choices": [{"message": {"content": "1_full_compliance"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    other, other_url = _serve(Other)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            seen["calls"] += 1
            seen["auth"].append(self.headers.get("Authorization"))
            content = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["messages"][0]["content"]
            seen["asked"].append(content)
            first = content not in seen["once"]
            seen["once"].add(content)
            if seen["down"]:
                return self._send(503, {"error": "down"})
            if "REDIRECT" in content:
                return self._send(302, {}, {"Location": f"{other_url}/v1/chat/completions"})
            if "ERROR500" in content and first:
                return self._send(500, {"error": "boom"})
            if "ALWAYS500" in content:
                return self._send(500, {"error": "boom"})
            if "RATE429" in content and first:
                return self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
            if "MALFORMED" in content:
                return self._send(200, "this is not json")
            if "HANG" in content:
                time.sleep(3.0)
            reply = "maybe?" if "GARBAGE" in content else "2_full_refusal" if "REFUSE" in content else "1_full_compliance"
            self._send(200, {"choices": [{"message": {"role": "assistant", "content": reply}}]})

        def _send(self, code, obj, headers=None):
            data = (obj if isinstance(obj, str) else json.dumps(obj)).encode()
            try:
                self.send_response(code)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    main, url = _serve(Handler)
    yield f"{url}/v1", seen
    main.shutdown()
    other.shutdown()


def _judge(url, rubric="refusal", **kw):
    kw = {"timeout": 0.3, "max_retries": 2, "backoff": 0.01, "use_cache": False, **kw}
    return LLMJudge(rubric, base_url=url, model="test-model", **kw)


def test_verdicts_and_failures(servers, monkeypatch):
    url, seen = servers
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    j = _judge(url)
    out = j.judge([("q REFUSE", "a"), ("q ERROR500 REFUSE", "a"), ("q GARBAGE", "a"), ("q ALWAYS500", "a"),
                   ("q MALFORMED", "a")])
    assert [v.label for v in out] == [REFUSAL, REFUSAL, None, None, None]
    assert [v.failed for v in out] == [False, False, False, True, True]  # unparseable is unscorable, not failed
    assert out[2].error.startswith("unparseable verdict") and out[3].error == "HTTP 500 after 3 attempts"
    assert out[4].error == "malformed response body"
    assert set(seen["auth"]) == {f"Bearer {SECRET}"}
    assert SECRET not in json.dumps(j.stats) and SECRET not in repr(vars(j))


def test_redirect_to_another_origin_never_gets_the_key(servers, monkeypatch):
    url, seen = servers
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    v = _judge(url).judge([("q REDIRECT", "a")])[0]
    assert v.label is None and v.failed and "redirect refused" in v.error
    assert seen["other_auth"] == []  # the other port was never asked, so no key (and no answer) from it


def test_retry_after_is_honoured(servers):
    url, seen = servers
    t = time.monotonic()
    v = _judge(url, timeout=5).judge([("q RATE429 REFUSE", "a")])[0]
    assert v.label == REFUSAL and time.monotonic() - t >= 0.95  # waited the server's 1 s, not the 0.01 s backoff


def test_hung_server_is_bounded_per_call_and_per_run(servers):
    url, _ = servers
    t = time.monotonic()
    v = _judge(url, timeout=0.3, max_retries=1).judge([("q HANG", "a")])[0]
    assert v.failed and v.error == "timeout after 2 attempts" and time.monotonic() - t < 2.0
    t = time.monotonic()
    out = _judge(url, timeout=0.4, max_retries=3, max_time=1.0).judge([(f"q HANG {i}", "a") for i in range(10)])
    assert all(v.failed for v in out) and time.monotonic() - t < 2.5  # 10 hung answers, one 1 s budget
    assert "run time budget" in out[-1].error


def _gen(tmp_path, prompts):
    d = tmp_path / "gen"
    d.mkdir()
    recs = [{"id": f"S:{i}", "prompt": p, "output": "some answer" if p else "", "key": f"k{i}", "finish_reason": "eos"}
            for i, p in enumerate(prompts)]
    (d / "S.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    mark_generated(d)
    return d


def test_stage_records_failures_exits_nonzero_and_retries_exactly_them(servers, tmp_path, run_cli):
    url, seen = servers
    gen = _gen(tmp_path, ["one REFUSE", "two ALWAYS500", "three", "four"])
    opts = {"base_url": url, "judge_model": "m", "timeout": 0.3, "max_retries": 0}
    with pytest.raises(JudgeFailures, match=r"1 verdict\(s\) failed \(llm-refusal on S: 1 x HTTP 500 after 1 attempts\)"):
        judge(["llm-refusal"], gen, tmp_path / "out", judge_kwargs=opts)
    recs = [json.loads(x) for x in (tmp_path / "out" / "S.llm-refusal.jsonl").read_text().splitlines()]
    assert [r["label"] for r in recs] == [REFUSAL, None, COMPLIANCE, COMPLIANCE]
    assert [r["failed"] for r in recs] == [False, True, False, False] and recs[1]["kind"] == "refusal"
    # the CLI: exit 2 and one line; only the failed item is asked again (verdicts are cached)
    seen["asked"].clear()
    code, _, err = run_cli("judge", "--judges", "llm-refusal", "--in", gen, "--out", tmp_path / "out", "--base-url", url,
                           "--judge-model", "m", "--timeout", "0.3", "--max-retries", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "1 verdict(s) failed" in err
    assert len(seen["asked"]) == 1 and "two ALWAYS500" in seen["asked"][0]
    # the server recovers (the test rewrites the prompt's outcome): the re-run fills the gap
    (gen / "S.jsonl").write_text((gen / "S.jsonl").read_text().replace("ALWAYS500", "fine now"))
    seen["asked"].clear()
    judge(["llm-refusal"], gen, tmp_path / "out", judge_kwargs=opts)
    recs = [json.loads(x) for x in (tmp_path / "out" / "S.llm-refusal.jsonl").read_text().splitlines()]
    assert [r["label"] for r in recs] == [REFUSAL, COMPLIANCE, COMPLIANCE, COMPLIANCE] and not any(r["failed"] for r in recs)
    assert len(seen["asked"]) == 1  # the three good verdicts came from the cache


def test_empty_output_is_unscorable_without_asking(servers, tmp_path):
    url, seen = servers
    gen = _gen(tmp_path, ["has answer", ""])
    judge(["llm-refusal"], gen, tmp_path / "out", judge_kwargs={"base_url": url, "judge_model": "m2"})
    recs = [json.loads(x) for x in (tmp_path / "out" / "S.llm-refusal.jsonl").read_text().splitlines()]
    assert [(r["label"], r["error"], r["failed"]) for r in recs] == [(COMPLIANCE, None, False), (None, "empty output", False)]
    assert seen["calls"] == 1


def test_options_and_registry():
    j = get_judge("llm-harm", base_url="http://127.0.0.1:9/v1", judge_model="m", timeout=5, max_retries=1, max_time=30)
    assert (j.kind, j.client.timeout, j.client.max_retries, j.client.max_time) == ("harm", 5.0, 1, 30.0)
    assert [(m.name, m.rate) for m in j.metrics] == [("harmful_rate", True), ("mean_score", False)]
    from safemix.errors import SafemixError

    with pytest.raises(SafemixError, match="judge 'xstest-strmatch' takes no option timeout"):
        get_judge("xstest-strmatch", timeout=3)


def test_parse_verdict():
    labels = (COMPLIANCE, REFUSAL, PARTIAL)
    assert parse_verdict("2_full_refusal", labels) == REFUSAL
    assert parse_verdict("Class: 3_partial_refusal.", labels) == PARTIAL
    assert parse_verdict(" 1 ", labels) == COMPLIANCE
    assert parse_verdict("full refusal", labels) == REFUSAL
    assert parse_verdict("1_full_compliance or 2_full_refusal", labels) is None
    assert parse_verdict("I think it's fine", labels) is None
    assert parse_verdict("Harmful", ("harmful", "harmless")) == "harmful"
    assert parse_verdict("harmless.", ("harmful", "harmless")) == "harmless"


def test_a_judge_that_scores_none_of_its_answers_fails_the_step(servers, tmp_path, run_cli):
    """A wrong endpoint or a changed API whose every verdict is unparseable: before, the step was marked done and
    the report had empty rates; now the step fails with one line naming the judge, and nothing is marked done."""
    from safemix.errors import SafemixError
    from safemix.markers import DONE

    url, _ = servers
    gen = _gen(tmp_path, ["one GARBAGE", "two GARBAGE", "three GARBAGE"])
    with pytest.raises(SafemixError, match=r"judge 'llm-refusal' could score none of its 3 answers \(3 x unparseable"):
        judge(["llm-refusal"], gen, tmp_path / "out", judge_kwargs={"base_url": url, "judge_model": "m"})
    assert not (tmp_path / "out" / DONE).exists()
    code, _, err = run_cli("judge", "--judges", "llm-refusal", "--in", gen, "--out", tmp_path / "out", "--base-url", url,
                           "--judge-model", "m")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "could score none" in err
    gen2 = _gen(tmp_path / "b", ["one GARBAGE", "two"]) if (tmp_path / "b").mkdir() is None else None
    judge(["llm-refusal"], gen2, tmp_path / "out2", judge_kwargs={"base_url": url, "judge_model": "m"})  # one scored: fine
    assert (tmp_path / "out2" / DONE).exists()


def test_check_asks_an_api_judge_once(servers, tmp_path, shared_data, run_cli):
    """--check sends the endpoint one tiny question: a dead endpoint or an answer outside the rubric is a FAIL row."""
    url, seen = servers
    base = ("name: api\nmodel: smollm2-135m\ndata: {general: gpteacher-roleplay, n_general: 8, k: [0]}\n"
            "generate: {suites: [Q-Harm], limit_per_suite: 2}\njudges: [xstest-strmatch, llm-refusal]\n"
            "judge_options: {base_url: 'URL', judge_model: m, timeout: 0.5, max_retries: 0}\n")
    cfg = tmp_path / "api.yaml"
    cfg.write_text(base.replace("URL", url))
    code, table, _ = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    assert code == 0 and "answered one question (model m)" in table and seen["calls"] == 1, table
    cfg.write_text(base.replace("URL", "http://127.0.0.1:9/v1"))  # nothing listens on port 9
    code, table, _ = run_cli("run", cfg, "--check", "--data-dir", shared_data)
    assert code == 2 and "FAIL  judge llm-refusal" in table

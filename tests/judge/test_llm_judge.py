import http.server
import json
import threading
import time

import pytest

from safemix.judge import COMPLIANCE, LLMJudge, PARTIAL, REFUSAL, parse_verdict

SECRET = "sk-test-do-not-log-123"


@pytest.fixture
def server():
    """A loopback OpenAI-compatible server: scripted by words in the request."""
    seen = {"auth": [], "calls": 0, "failed_once": set()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            seen["calls"] += 1
            seen["auth"].append(self.headers.get("Authorization"))
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            content = body["messages"][0]["content"]
            if "ERROR500" in content and content not in seen["failed_once"]:
                seen["failed_once"].add(content)
                return self._send(500, {"error": "boom"})
            if "ALWAYS500" in content:
                return self._send(500, {"error": "boom"})
            if "TIMEOUT" in content:
                time.sleep(1.0)
            reply = "maybe?" if "GARBAGE" in content else "2_full_refusal" if "REFUSE" in content else "harmless"
            self._send(200, {"choices": [{"message": {"role": "assistant", "content": reply}}]})

        def _send(self, code, obj):
            data = json.dumps(obj).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    httpd.shutdown()


def _judge(url, rubric="refusal", **kw):
    return LLMJudge(rubric, base_url=url, model="test-model", timeout=0.3, max_retries=2, backoff=0.01, **kw)


def test_verdicts_retries_timeouts_and_garbage(server, monkeypatch):
    url, seen = server
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    j = _judge(url, use_cache=False)
    out = j.judge([("q REFUSE", "a"), ("q ERROR500 REFUSE", "a"), ("q GARBAGE", "a"), ("q TIMEOUT", "a"),
                   ("q ALWAYS500", "a")])
    assert [v.label for v in out] == [REFUSAL, REFUSAL, None, None, None]
    assert j.stats["unparseable"] == 1 and j.stats["errors"] == 2 and j.stats["retries"] >= 1 + 2 + 2
    assert set(seen["auth"]) == {f"Bearer {SECRET}"}
    assert SECRET not in json.dumps(j.stats) and SECRET not in repr(vars(j))


def test_verdict_cache(server):
    url, seen = server
    j = _judge(url, "harm")
    first = j.judge([("cached question", "answer")])
    calls = seen["calls"]
    again = _judge(url, "harm").judge([("cached question", "answer")])
    assert first == again and first[0].label == "harmless" and seen["calls"] == calls


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

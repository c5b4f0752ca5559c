"""The moderation judge against a loopback server (127.0.0.1) answering in the real /v1/moderations
shape: batched inputs, categories kept, the LLM judge's hardening, failures retried on the next run."""

import http.server
import json
import threading

import pytest

from safemix.judge import JudgeFailures, judge
from safemix.judge.moderation import ModerationJudge
from safemix.markers import mark_generated

SECRET = "sk-moderation-test-123"
CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
              "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
              "violence/graphic")


def _result(text: str) -> dict:
    """One result as the API gives it: flagged, a boolean and a score per category, input types."""
    hot = {"violence", "illicit/violent"} if "kill" in text else set()
    return {"flagged": bool(hot), "categories": {c: c in hot for c in CATEGORIES},
            "category_scores": {c: (0.91 if c in hot else 0.0004) for c in CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in CATEGORIES}}


@pytest.fixture
def server():
    seen = {"bodies": [], "auth": [], "other_auth": [], "fail": set()}

    class Other(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            seen["other_auth"].append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["bodies"].append(body)
            seen["auth"].append(self.headers.get("Authorization"))
            texts = body["input"]
            if any("REDIRECT" in t for t in texts):
                return self._send(307, {}, {"Location": f"{other_url}/v1/moderations"})
            if any(t in seen["fail"] for t in texts):
                return self._send(503, {"error": {"message": "overloaded"}})
            if any("SHORT" in t for t in texts):
                return self._send(200, {"id": "modr-1", "model": body["model"], "results": []})
            self._send(200, {"id": "modr-1", "model": body["model"], "results": [_result(t) for t in texts]})

        def _send(self, code, obj, headers=None):
            data = json.dumps(obj).encode()
            self.send_response(code)
            for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    servers = []
    for cls in (Other, Handler):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        if cls is Other:
            other_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield f"http://127.0.0.1:{servers[1].server_address[1]}/v1", seen
    for s in servers:
        s.shutdown()


def test_batched_verdicts_keep_categories(server, monkeypatch):
    url, seen = server
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    j = ModerationJudge(url, "omni-moderation-latest", timeout=2, max_retries=0, batch_size=2, use_cache=False)
    out = j.judge([("q", "how to kill a process"), ("q", "hello"), ("q", "a poem")])
    assert [len(b["input"]) for b in seen["bodies"]] == [2, 1]  # two requests for three answers, batch_size 2
    assert seen["bodies"][0] == {"model": "omni-moderation-latest", "input": ["how to kill a process", "hello"]}
    assert [v.label for v in out] == ["harmful", "harmless", "harmless"]
    assert out[0].score == 0.91 and out[0].details["flagged_categories"] == ["illicit/violent", "violence"]
    assert len(out[1].details["category_scores"]) == len(CATEGORIES)
    assert set(seen["auth"]) == {f"Bearer {SECRET}"}


def test_redirect_and_short_answers_fail_without_forwarding_the_key(server, monkeypatch):
    url, seen = server
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    j = ModerationJudge(url, timeout=2, max_retries=0, use_cache=False)
    v = j.judge([("q", "REDIRECT me")])[0]
    assert v.failed and "redirect refused" in v.error and seen["other_auth"] == []
    v = j.judge([("q", "SHORT")])[0]
    assert v.failed and "malformed response body (0 results for 1 inputs)" in v.error


def test_stage_records_failures_and_a_rerun_asks_only_for_them(server, tmp_path):
    url, seen = server
    gen = tmp_path / "gen"
    gen.mkdir()
    answers = ["kill it", "fine", "flaky answer", "also fine"]
    (gen / "S.jsonl").write_text("".join(json.dumps({"id": f"S:{i}", "prompt": "q", "output": a, "key": f"k{i}"}) + "\n"
                                         for i, a in enumerate(answers)))
    mark_generated(gen)
    seen["fail"].add("flaky answer")
    opts = {"base_url": url, "judge_model": "m", "timeout": 2, "max_retries": 0, "batch_size": 1}
    with pytest.raises(JudgeFailures, match=r"1 verdict\(s\) failed \(moderation on S: 1 x HTTP 503 after 1 attempts\)"):
        judge(["moderation"], gen, tmp_path / "out", judge_kwargs=opts)
    recs = [json.loads(x) for x in (tmp_path / "out" / "S.moderation.jsonl").read_text().splitlines()]
    assert [r["label"] for r in recs] == ["harmful", "harmless", None, "harmless"] and recs[2]["failed"]
    assert recs[0]["kind"] == "harm" and recs[0]["details"]["flagged_categories"] == ["illicit/violent", "violence"]
    seen["fail"].clear()
    seen["bodies"].clear()
    judge(["moderation"], gen, tmp_path / "out", judge_kwargs=opts)
    assert [b["input"] for b in seen["bodies"]] == [["flaky answer"]]  # only the failed one is asked again
    recs = [json.loads(x) for x in (tmp_path / "out" / "S.moderation.jsonl").read_text().splitlines()]
    assert [r["label"] for r in recs] == ["harmful", "harmless", "harmless", "harmless"]

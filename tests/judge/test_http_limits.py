"""The API client's limits against a loopback server that misbehaves: a slow drip, a huge body, NaN."""

import http.server
import json
import threading
import time

import pytest

from safemix.judge.http import MAX_BODY, CallFailed, HardenedClient
from safemix.judge.moderation import parse_result


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = self.path.strip("/")
        if mode == "drip":  # a valid body, one byte a second
            body = json.dumps({"choices": [{"message": {"content": "x" * 60}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                try:
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(1)
            return
        body = {"huge": b'{"a": "' + b"x" * (MAX_BODY + 10) + b'"}',
                "nan": b'{"results": [{"flagged": false, "category_scores": {"violence": NaN}}]}'}[mode]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_dripping_server_cannot_hold_a_call_past_its_deadline(server):
    client = HardenedClient(server, timeout=2, max_retries=0, max_time=15)
    t0 = time.monotonic()
    with pytest.raises(CallFailed, match="timeout after 1 attempts"):
        client.post("/drip", {})
    assert time.monotonic() - t0 < 4  # the timeout bounds the whole attempt, not each read


def test_a_huge_body_is_refused_not_read_whole(server):
    with pytest.raises(CallFailed, match="response body over 16 MB"):
        HardenedClient(server, timeout=10, max_retries=0).post("/huge", {})


def test_nan_in_a_body_is_malformed(server):
    with pytest.raises(CallFailed, match="malformed response body"):
        HardenedClient(server, timeout=10, max_retries=0).post("/nan", {})


@pytest.mark.parametrize("result", [
    {"flagged": True, "categories": ["violence"], "category_scores": {}},
    {"flagged": True, "categories": {}, "category_scores": [0.1]},
    {"flagged": False, "categories": {}, "category_scores": {"violence": float("nan")}},
    {"flagged": False, "categories": {}, "category_scores": {"violence": float("inf")}},
])
def test_malformed_moderation_results_are_unscorable_not_a_traceback(result):
    v = parse_result(result)
    assert v.label is None and v.error.startswith("malformed moderation result")
    json.dumps(v.to_dict(), allow_nan=False)  # what is written is valid JSON

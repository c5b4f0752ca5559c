"""A hardened JSON-over-HTTP client for judges behind an API (the LLM judges, moderation).

Failures are never silent: a call is retried on timeouts, connection errors, 429 and 5xx (waiting
``Retry-After`` when the server sends one, else exponential backoff), within a per-call deadline
(``timeout`` seconds for each attempt, ``max_retries`` retries) and a per-run budget (``max_time``
seconds for all calls of one client). A call that cannot succeed raises :class:`CallFailed` with a
short reason, which the judge records as a failed verdict (retried on the next run).

Redirects are not followed: a 3xx answer is a failure (a redirect to another origin would otherwise
carry the ``Authorization`` header there). The key is read from an environment variable, sent only
to ``base_url``'s origin, and never logged.
"""

from __future__ import annotations

import email.utils
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections import Counter

from ..errors import SafemixError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class CallFailed(Exception):
    """One verdict could not be had; the message is the short reason recorded with it."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise CallFailed(f"HTTP {code} redirect refused (credentials are never forwarded)")


_OPENER = urllib.request.build_opener(_NoRedirect)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


MAX_BODY = 16 << 20  # bytes: a judge's answer is a few KB; a larger body is refused, not held in memory


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")  # NaN / Infinity: json.loads would accept them


def _read_body(resp, deadline: float) -> bytes:
    """The response body, read as it arrives until ``deadline`` (a server that sends a byte a second
    cannot hold the call past it) and at most MAX_BODY bytes."""
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        sock = getattr(getattr(resp.fp, "raw", None), "_sock", None)
        if sock is not None:
            sock.settimeout(left)  # each read waits at most until the deadline
        chunk = resp.read1(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY:
            raise CallFailed(f"response body over {MAX_BODY >> 20} MB")
        chunks.append(chunk)


class HardenedClient:
    def __init__(self, base_url: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 max_retries: int = 4, max_time: float | None = None, backoff: float = 1.0, what: str = "judge"):
        if timeout <= 0 or max_retries < 0 or (max_time is not None and max_time <= 0):
            raise SafemixError(f"{what}: timeout and max_time must be > 0, max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.api_key_env, self.timeout, self.max_retries, self.backoff = api_key_env, timeout, max_retries, backoff
        self.max_time = max_time
        self.stats: Counter = Counter()
        self._started: float | None = None

    def _budget_left(self) -> float:
        if self.max_time is None:
            return float("inf")
        if self._started is None:
            self._started = time.monotonic()
        return self.max_time - (time.monotonic() - self._started)

    def post(self, path: str, body: dict) -> dict:
        """POST ``body`` as JSON to ``base_url + path``; the parsed JSON answer, or :class:`CallFailed`."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=headers, method="POST")
        for attempt in range(self.max_retries + 1):
            left = self._budget_left()
            if left <= 0:
                raise CallFailed(f"run time budget of {self.max_time:g} s spent")
            self.stats["calls"] += 1
            wait = None
            try:
                deadline = time.monotonic() + min(self.timeout, left)  # for the whole attempt, not per read
                with _OPENER.open(req, timeout=min(self.timeout, left)) as resp:
                    payload = _read_body(resp, deadline)
                try:
                    doc = json.loads(payload, parse_constant=_no_constant)
                except ValueError:
                    raise CallFailed("malformed response body") from None
                if not isinstance(doc, dict):
                    raise CallFailed("malformed response body")
                return doc
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRY_STATUS:
                    raise CallFailed(f"HTTP {exc.code}") from None
                error, wait = f"HTTP {exc.code}", retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                error = "timeout" if isinstance(reason, (socket.timeout, TimeoutError)) else f"connection error ({type(reason).__name__})"
            if attempt == self.max_retries:
                raise CallFailed(f"{error} after {attempt + 1} attempts")
            wait = self.backoff * (2 ** attempt) if wait is None else wait
            if wait >= self._budget_left():
                raise CallFailed(f"{error}; retry would exceed the run time budget")
            self.stats["retries"] += 1
            time.sleep(wait)
        raise AssertionError("unreachable")

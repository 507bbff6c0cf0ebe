"""Local stand-ins for the vendor APIs the gateway forwards to, for unit and e2e tests (no pytest here).

One ThreadingHTTPServer on 127.0.0.1 serves all three at their real paths, so an adapter's base_url
points at `standins.base_url`:

- Meta Conversions API   POST /v<NN>.0/<pixel id>/events
- TikTok Events API      POST /open_api/v1.3/event/track/
- GA4 Measurement Prot.  POST /mp/collect (204 to anything, like the real one) and /debug/mp/collect

Each validates the payload the way its documentation says the real API does (the rules are in
tests/vendor_api_rules.py; docs/forwarding-vendors.md lists them) and answers in the vendor's own shape: Meta 400 with
{"error": {...}}, TikTok HTTP 200 with a non-zero `code`, GA4's debug endpoint {"validationMessages"}.
GA4's /mp/collect never refuses, so every request it receives is also checked by the debug rules and
the messages kept on the recorded request (`Received.validation`): a test asserts it is empty.

Controls: `requests(vendor)` (everything received, failed or not), `fail_next(vendor, n, status,
retry_after, body)`, `slow(vendor, seconds)`, `down()` / `up()` (the listening socket really closes:
connection refused), and `distinct_events(vendor)`: events accepted, de-duplicated by (account,
event_id) for Meta and TikTok as those vendors do, counted one by one for GA4, which does not.
Vendors are named as the adapters' VENDOR: "meta_pixel", "tiktok_pixel", "ga4".
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.vendor_api_rules import ga4_problems, meta_error, meta_problem, tiktok_answer, tiktok_problem

META, TIKTOK, GA4 = "meta_pixel", "tiktok_pixel", "ga4"
VENDORS = (META, TIKTOK, GA4)
META_PATH = re.compile(r"^/v\d+\.\d+/(\d+)/events$")
TIKTOK_PATH = "/open_api/v1.3/event/track/"


@dataclass
class Received:
    vendor: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]   # lower-cased names
    body: Any                 # parsed JSON, None when the body was not JSON
    status: int = 0           # what the stand-in answered
    validation: list[dict[str, str]] = field(default_factory=list)  # GA4: the debug rules' messages


# ----------------------------------------------------------------------------------------- server

@dataclass
class _Failure:
    status: int
    retry_after: str | None
    body: Any


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a send that timed out, a load generator stopping) is not an error worth a
    traceback on stderr; anything else still is."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class VendorAPIStandIns:
    """Start with `with VendorAPIStandIns() as apis:` (or start()/stop()); point adapters at apis.base_url.

    `tokens` optionally maps a vendor to the one credential it accepts (any non-empty one otherwise);
    `clock` is what "now" means for event_time checks."""

    def __init__(self, tokens: dict[str, str] | None = None, clock: Callable[[], float] = time.time):
        self.tokens = dict(tokens or {})
        self.clock = clock
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle
    def start(self) -> "VendorAPIStandIns":
        self._listen(self.port)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def down(self) -> None:
        """Close the listening socket: connections are refused until up()."""
        self.stop()

    def up(self) -> None:
        if self._server is None:
            self._listen(self.port)

    def __enter__(self) -> "VendorAPIStandIns":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> None:
        server = QuietServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a slow answer still sleeping must not hold up stop()
        server.standins = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        # A short poll so stop()/down() return at once (serve_forever checks for shutdown every poll).
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="vendor-api-standins", daemon=True)
        self._thread.start()

    # -- controls and observations
    def reset(self) -> None:
        with self._lock:
            self._received: dict[str, list[Received]] = {v: [] for v in VENDORS}
            self._failures: dict[str, list[_Failure]] = {v: [] for v in VENDORS}
            self._delay: dict[str, float] = {v: 0.0 for v in VENDORS}
            self._accepted: dict[str, list[tuple[str, str]]] = {v: [] for v in VENDORS}

    def fail_next(self, vendor: str, n: int = 1, status: int = 500, retry_after: int | str | None = None,
                  body: Any = None) -> None:
        """Answer the next `n` requests for `vendor` with `status` (and Retry-After, and `body`: a dict is
        sent as JSON; None = the vendor's own error shape for that status) instead of processing them."""
        self._check(vendor)
        with self._lock:
            self._failures[vendor] += [_Failure(status, None if retry_after is None else str(retry_after), body)] * n

    def slow(self, vendor: str, seconds: float) -> None:
        self._check(vendor)
        with self._lock:
            self._delay[vendor] = seconds

    def requests(self, vendor: str) -> list[Received]:
        self._check(vendor)
        with self._lock:
            return list(self._received[vendor])

    def distinct_events(self, vendor: str) -> int:
        """Events accepted; Meta and TikTok count an (account, event_id) once, GA4 counts every event."""
        self._check(vendor)
        with self._lock:
            accepted = self._accepted[vendor]
            return len(accepted) if vendor == GA4 else len(set(accepted))

    @staticmethod
    def _check(vendor: str) -> None:
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; one of {', '.join(VENDORS)}")

    # -- request handling (called from the handler thread)
    def _answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        vendor, account = _route(parts.path)
        if vendor is None:
            return 404, {}, b'{"error": "no such endpoint on the vendor stand-ins"}'
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        record = Received(vendor, method, parts.path, query, headers, body)
        with self._lock:
            self._received[vendor].append(record)
            failure = self._failures[vendor].pop(0) if self._failures[vendor] else None
            delay = self._delay[vendor]
        if delay:
            time.sleep(delay)
        if failure is not None:
            status, extra, payload = self._failure_answer(vendor, failure)
        elif method != "POST":
            status, extra, payload = 405, {}, b""
        else:
            status, extra, payload = self._process(vendor, account, parts.path, query, headers, body, record)
        record.status = status
        return status, extra, payload

    def _failure_answer(self, vendor: str, failure: _Failure) -> tuple[int, dict[str, str], bytes]:
        body = failure.body
        if body is None:
            body = _default_failure_body(vendor, failure.status)
        payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body != "" else b""
        extra = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        return failure.status, extra, payload

    def _process(self, vendor: str, account: str, path: str, query: dict[str, str], headers: dict[str, str],
                 body: Any, record: Received) -> tuple[int, dict[str, str], bytes]:
        now = self.clock()
        if vendor == META:
            problem = meta_problem(query, body, now, self.tokens.get(META))
            if problem:
                return 400, {}, json.dumps(problem).encode()
            self._accept(META, [(account, str(e.get("event_id", ""))) for e in body["data"]])
            answer = {"events_received": len(body["data"]), "messages": [], "fbtrace_id": secrets.token_urlsafe(8)}
            return 200, {}, json.dumps(answer).encode()
        if vendor == TIKTOK:
            problem = tiktok_problem(headers, body, now, self.tokens.get(TIKTOK))
            if problem:
                return 200, {}, json.dumps(problem).encode()
            self._accept(TIKTOK, [(str(body["event_source_id"]), str(e["event_id"])) for e in body["data"]])
            return 200, {}, json.dumps(tiktok_answer(0, "OK")).encode()
        record.validation = ga4_problems(query, body)
        if path.startswith("/debug/"):
            return 200, {}, json.dumps({"validationMessages": record.validation}).encode()
        if not record.validation:
            # The real endpoint silently drops what it cannot use; only valid events count.
            self._accept(GA4, [(query.get("measurement_id", ""), "") for _ in body["events"]])
        return 204, {}, b""

    def _accept(self, vendor: str, keys: list[tuple[str, str]]) -> None:
        with self._lock:
            self._accepted[vendor] += keys


def _route(path: str) -> tuple[str | None, str]:
    match = META_PATH.match(path)
    if match:
        return META, match.group(1)
    if path == TIKTOK_PATH:
        return TIKTOK, ""
    if path in ("/mp/collect", "/debug/mp/collect"):
        return GA4, ""
    return None, ""


def _default_failure_body(vendor: str, status: int) -> Any:
    if vendor == META:
        if status == 429:
            return meta_error("(#4) Application request limit reached", code=4, transient=True)
        if status >= 500:
            return meta_error("An unexpected error has occurred. Please retry your request later.", code=2,
                              transient=True)
        return meta_error("(#100) Invalid parameter", subcode=2804003, user_msg="refused by fail_next")
    if vendor == TIKTOK:
        if status == 429:
            return tiktok_answer(40100, "Too many requests. Please retry in some time.")
        if status >= 500:
            return tiktok_answer(50000, "System error. Please retry.")
        return tiktok_answer(40002, "refused by fail_next")
    return ""  # GA4 answers errors without a body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.server.standins._answer(self.command, self.path, headers, raw)  # type: ignore[attr-defined]
        try:
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (a test's short timeout): nothing to tell it any more
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

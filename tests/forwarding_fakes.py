"""Test helpers for server-side forwarding: a stand-in adapter with the adapters' interface, a config with
server-side tags, and a small vendor API on 127.0.0.1 that records what it receives.

The fake adapter speaks a deliberately simple protocol (POST JSON {event_id, event_name, ...} to
<base>/events with the credential as a bearer token; 2xx delivered, 429 retry after Retry-After, 5xx retry,
other 4xx failed), so the outbox and delivery are tested apart from any real vendor format.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace

from gateway.forwarding.event import Delivered, Failed, OutgoingRequest, Retry
from vendor_api_standins import QuietServer

ROOT = Path(__file__).resolve().parent.parent


def fake_adapter(vendor: str, base_url: str = "http://127.0.0.1:9") -> SimpleNamespace:
    def build_request(event, transforms, credential, base=None):
        body = json.dumps({"event_id": event.event_id, "event_name": event.event_name, "account": event.account_id,
                           "value": event.params.get("value"), "restricted": event.restricted,
                           "ip": event.client_ip if transforms.ip == "send" else None}).encode()
        return OutgoingRequest("POST", f"{base or base_url}/events", {"Content-Type": "application/json",
                                                                      "Authorization": f"Bearer {credential}"}, body)

    def read_answer(answer):
        if 200 <= answer.status < 300:
            return Delivered(answer.body.decode()[:100])
        if answer.status == 429:
            after = answer.headers.get("retry-after")
            return Retry(f"429 {answer.body.decode()[:200]}", float(after) if after else None)
        if answer.status >= 500:
            return Retry(f"{answer.status} {answer.body.decode()[:200]}")
        return Failed(f"{answer.status} {answer.body.decode()[:200]}")

    return SimpleNamespace(VENDOR=vendor, CREDENTIAL="token", USER_AGENT_REQUIRED=vendor == "meta_pixel",
                           DEDUPLICATES_BY_EVENT_ID=vendor != "ga4", build_request=build_request,
                           read_answer=read_answer)


def adapters(base_url: str = "http://127.0.0.1:9"):
    made = {v: fake_adapter(v, base_url) for v in ("meta_pixel", "tiktok_pixel", "ga4")}
    return made.get


def server_side_config(target: Path, forwarding: str = "") -> Path:
    """The example store's config with meta-purchase and tiktok-purchase `also`, ga4-purchase `only`."""
    shutil.copytree(ROOT / "tag_configs", target)
    tags = target / "tags.yaml"
    text = tags.read_text()
    for tag, mode in (("meta-purchase", "also"), ("tiktok-purchase", "also"), ("ga4-purchase", "only")):
        text = text.replace(f"  - id: {tag}\n", f"  - id: {tag}\n    server_side: {mode}\n", 1)
    tags.write_text(text + (f"\nforwarding:\n{forwarding}" if forwarding else ""))
    return target


class _ReusableQuietServer(QuietServer):
    """A stand-in brought down and up again on the same port (a vendor outage): the port is free at once. Quiet
    when a gateway killed mid-send hangs up on it."""

    allow_reuse_address = True


class VendorStandIn:
    """A vendor API on 127.0.0.1: records each request; `answers` (a list of (status, headers, body)) are
    used in order, then 200. `down()` stops listening, `up()` listens again on the same port."""

    def __init__(self, port: int = 0):
        self.received: list[dict] = []
        self.answers: list[tuple[int, dict, bytes]] = []
        self.hold = threading.Event()  # set: answer; clear: keep the request waiting
        self.hold.set()
        self.lock = threading.Lock()
        self.port = port
        self.server = None
        self.up()

    def up(self) -> "VendorStandIn":
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                try:
                    self.answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up waiting (its timeout): nobody reads the answer

            def answer(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                stand_in.hold.wait(30)
                with stand_in.lock:
                    stand_in.received.append({"path": self.path, "headers": dict(self.headers),
                                              "body": json.loads(body), "at": time.monotonic()})
                    status, headers, answer = stand_in.answers.pop(0) if stand_in.answers else (200, {}, b'{"ok":1}')
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = _ReusableQuietServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def event_ids(self) -> list[str]:
        with self.lock:
            return [r["body"]["event_id"] for r in self.received]

"""gateway/forwarding/sender.py: connections to a vendor are kept between sends, a kept connection the
server closed is replaced without losing the send, and the TLS context is built once."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from gateway.forwarding import sender
from gateway.forwarding.event import OutgoingRequest
from vendor_api_standins import QuietServer


class Vendor:
    """HTTP/1.1 on 127.0.0.1 that answers 200 and records each request's client port (one port, one
    connection). `close_after_answer`: closes each connection after answering without saying so, as a
    server whose keep-alive timeout just ran out does."""

    def __init__(self, close_after_answer: bool = False):
        self.ports: list[int] = []
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                vendor.ports.append(self.client_address[1])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.wfile.flush()
                if close_after_answer:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)  # a send that timed out hangs up: no traceback
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def fresh_connections():
    sender.close_kept()
    yield
    sender.close_kept()


def post(url: str, n: int) -> OutgoingRequest:
    return OutgoingRequest("POST", url, {"Content-Type": "application/json"}, b'{"n": %d}' % n)


def test_sends_to_one_vendor_share_one_connection():
    vendor = Vendor()
    try:
        answers = [sender.send(post(vendor.url, n), 5) for n in range(5)]
    finally:
        vendor.stop()
    assert [a.status for a in answers] == [200] * 5
    assert len(vendor.ports) == 5 and len(set(vendor.ports)) == 1


def test_a_connection_idle_too_long_is_not_reused(monkeypatch):
    monkeypatch.setattr(sender, "IDLE_REUSE_S", -1.0)  # every kept connection counts as idle too long
    vendor = Vendor()
    try:
        answers = [sender.send(post(vendor.url, n), 5) for n in range(3)]
    finally:
        vendor.stop()
    assert [a.status for a in answers] == [200] * 3
    assert len(set(vendor.ports)) == 3


def test_a_kept_connection_the_server_closed_is_replaced_and_the_event_still_sent():
    vendor = Vendor(close_after_answer=True)
    try:
        answers = [sender.send(post(vendor.url, n), 5) for n in range(4)]
    finally:
        vendor.stop()
    assert [getattr(a, "status", a) for a in answers] == [200] * 4
    assert len(vendor.ports) == 4 and len(set(vendor.ports)) == 4  # each send arrived once, on a new connection


def test_an_unreachable_vendor_is_not_an_answer_and_keeps_nothing():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    answer = sender.send(post(f"http://127.0.0.1:{port}/events", 1), 2)
    assert isinstance(answer, sender.Unreachable) and "Refused" in answer.error
    assert sender._kept.connections == {}


def test_the_tls_context_is_built_once(monkeypatch):
    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(sender, "_tls_context", None)
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(*a, **k))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for n in range(3):
        assert isinstance(sender.send(post(f"https://127.0.0.1:{port}/events", n), 2), sender.Unreachable)
    assert len(built) == 1

"""Send one `OutgoingRequest` and hand back what the vendor answered.

The standard library's http.client rather than an HTTP client package: delivery sends one request at a
time per delivery thread to a handful of vendor hosts, needs only a timeout, and must never follow a
redirect or read an unbounded body. A network failure (refused, reset, timed out, DNS) is not an answer:
it comes back as `Unreachable`, which the caller treats as "retry later".

Connections are kept open between sends, one per vendor host and thread (a delivery thread sends
to two or three hosts, one request after another): a new TLS connection per event costs the vendor's
round trips and a handshake's CPU each time, and building a TLS context (loading the system's CA
certificates) costs more than a small request; both are now paid once. A connection idle for more than
IDLE_REUSE_S is closed rather than reused, since servers close idle keep-alive connections on their own
after a few seconds; if a reused one turns out closed anyway (reset, or closed before any answer), the
request is sent once more on a new connection. That resend is what "retry later" would do a few seconds
later in any case; Meta and TikTok de-duplicate it by event id.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.forwarding.event import OutgoingRequest

MAX_ANSWER_BYTES = 64 * 1024  # vendors answer in a few hundred bytes; an error body is kept for the dead letters
IDLE_REUSE_S = 4.0  # below the usual keep-alive timeouts of servers (5 s and up)
# What a kept connection that the server had already closed raises on its next use.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class Unreachable:
    error: str


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _tls_context
    if _tls_context is None:  # two threads racing here each build one: harmless, the last is kept
        _tls_context = ssl.create_default_context()
    return _tls_context


class _Kept(threading.local):
    """This thread's open connections: (scheme, host, port) -> (connection, when it was last used)."""

    def __init__(self) -> None:
        self.connections: dict[tuple[str, str, int | None], tuple[http.client.HTTPConnection, float]] = {}


_kept = _Kept()


def _new(scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls())
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _exchange(connection: http.client.HTTPConnection, request: OutgoingRequest, target: str,
              timeout: float) -> tuple[Answer, bool]:
    """The answer, and whether the connection can carry another request."""
    if connection.sock is not None:
        connection.sock.settimeout(timeout)
    connection.request(request.method, target, body=request.body, headers=request.headers)
    response = connection.getresponse()
    body = response.read(MAX_ANSWER_BYTES)
    # isclosed(): the whole answer was read (a longer one leaves bytes behind); will_close: the server said so.
    reusable = response.isclosed() and not response.will_close
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body), reusable


def send(request: OutgoingRequest, timeout: float = 10.0) -> Answer | Unreachable:
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Unreachable(f"not an http(s) URL: {request.url[:100]}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    key = (parts.scheme, parts.hostname, parts.port)
    kept = _kept.connections.pop(key, None)
    connection = None
    if kept is not None:
        connection, last_used = kept
        if time.monotonic() - last_used > IDLE_REUSE_S:
            connection.close()
            connection = None
    reused = connection is not None
    if connection is None:
        connection = _new(parts.scheme, parts.hostname, parts.port, timeout)
    try:
        try:
            answer, reusable = _exchange(connection, request, target, timeout)
        except _STALE:
            if not reused:
                raise
            connection.close()
            connection = _new(parts.scheme, parts.hostname, parts.port, timeout)
            answer, reusable = _exchange(connection, request, target, timeout)
    except (OSError, http.client.HTTPException, socket.timeout) as exc:
        connection.close()
        return Unreachable(f"{type(exc).__name__}: {exc}"[:300])
    if reusable:
        _kept.connections[key] = (connection, time.monotonic())
    else:
        connection.close()
    return answer


def close_kept() -> None:
    """Close this thread's kept connections (the delivery worker, when it stops)."""
    for connection, _ in _kept.connections.values():
        connection.close()
    _kept.connections.clear()

"""Send one `OutgoingRequest` and hand back what the vendor answered.

The standard library's http.client rather than an HTTP client package: delivery sends one request at a
time per delivery thread to a handful of vendor hosts, needs only a timeout, and must never follow a
redirect or read an unbounded body. A network failure (refused, reset, timed out, DNS) is not an answer:
it comes back as `Unreachable`, which the caller treats as "retry later".
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.forwarding.event import OutgoingRequest

MAX_ANSWER_BYTES = 64 * 1024  # vendors answer in a few hundred bytes; an error body is kept for the dead letters


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class Unreachable:
    error: str


def send(request: OutgoingRequest, timeout: float = 10.0) -> Answer | Unreachable:
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Unreachable(f"not an http(s) URL: {request.url[:100]}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(request.method, target, body=request.body, headers=request.headers)
        response = connection.getresponse()
        body = response.read(MAX_ANSWER_BYTES)
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    except (OSError, http.client.HTTPException, socket.timeout) as exc:
        return Unreachable(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connection.close()

"""uvicorn's httptools protocol, with the container answered inside the parser's callback.

`GET|HEAD /container.js` (or `/c/<site>.js`) is the request every page view makes. Here it costs a
header scan, two dict lookups and one `transport.write` of bytes built once per container version
and second: no ASGI scope, no task, no message dicts. Measured on the 2-core bench machine this
reached 92-98k req/s against nginx's 62-83k for the same bytes (server.py has the figures).

Every other request, and any container request that cannot be answered at once without breaking
HTTP/1.1, goes to uvicorn's `HttpToolsProtocol` unchanged:
* a request with a body (Content-Length or Transfer-Encoding), an Expect or an Upgrade;
* a request pipelined behind one whose ASGI cycle is still running (answering first would reorder
  the responses), or arriving while the client does not read what it was sent (the normal path
  waits for the write buffer to drain; the fast path must not grow it without bound).

It also adds what uvicorn lacks for slow or hostile clients: a deadline for a request's headers
(a connection that sends nothing, or headers a byte at a time, is closed after `header_timeout`)
and a cap on their size (llhttp has none: 64 KiB of request line and headers, then 431).
"""

from __future__ import annotations

import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.serving.container_answers import Answer

MAX_HEADER_BYTES = 64 * 1024  # request line + headers; nginx allows 4 x 8 KiB, Node 16 KiB
BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"expect", b"upgrade"})
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
             b"content-length: 32\r\nconnection: close\r\n\r\nrequest headers are too large.\r\n")


class ContainerProtocol(HttpToolsProtocol):
    """Bind `front` (a gateway.serving.front.Front) and `header_timeout` with `bound()`."""

    front: Any = None
    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast = False  # the message being parsed was answered by the fast path
        self.awaiting_headers = True
        self.header_bytes = 0
        self.header_deadline: Any = None

    # -- connection --------------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()  # uvicorn itself never times out a connection that sends nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.awaiting_headers and not self.transport.is_closing():
            # Counted after parsing, so a chunk that completes its headers is never counted; a chunk
            # that also starts the next pipelined request counts whole (an overestimate, on the safe side).
            self.header_bytes += len(data)
            if self.header_bytes > MAX_HEADER_BYTES:
                self.transport.write(TOO_LARGE)
                self.transport.close()

    # -- header deadline ---------------------------------------------------------------------------
    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        # Armed only while a request's headers are incomplete, which for a client that does not
        # pipeline means no response is in flight: nothing is cut short by closing now.
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    # -- parser callbacks --------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.fast = False
        self.awaiting_headers = True
        self._unset_keepalive_if_required()  # a fast answer armed it; this request is the next one
        self._arm_header_deadline()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self.header_bytes = 0
        self._disarm_header_deadline()
        route = self.front.containers.get(self.url.partition(b"?")[0])
        if route is not None and self._answer(route):
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.fast:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.fast:
            super().on_message_complete()

    # -- the fast path -----------------------------------------------------------------------------
    def _answer(self, route: tuple) -> bool:
        """Answer a container request now; False when it must take the normal way."""
        started = time.perf_counter()
        method = self.parser.get_method()
        if method != b"GET" and method != b"HEAD":
            return False
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.pipeline or self.flow.write_paused \
                or self.transport.is_closing():
            return False
        accept_encoding = if_none_match = None
        for name, value in self.headers:
            if name == b"accept-encoding":
                if accept_encoding is None:
                    accept_encoding = value.decode("latin-1")
            elif name == b"if-none-match":
                if if_none_match is None:
                    if_none_match = value.decode("latin-1")
            elif name in BODY_HEADERS:
                return False
        label, path, answers = route
        verb = "GET" if method == b"GET" else "HEAD"
        answer = answers().answer(verb, accept_encoding, if_none_match)
        version = self.parser.get_http_version()
        keep_alive = version != "1.0" and self.parser.should_keep_alive()
        self.fast = True
        self.transport.write(wire(answer, keep_alive, self.server_state.default_headers))
        self.server_state.total_requests += 1
        if keep_alive:  # as uvicorn does when a response completes with nothing pipelined
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
        else:
            self.transport.close()
        self.front.telemetry.request(self.client[0] if self.client else "", verb, path, version, label,
                                     answer.status, started, time.perf_counter())
        return True


_wired_headers: list | None = None  # the default headers (Date changes every second) the cache was built with
_wired: dict[tuple[Answer, bool], bytes] = {}


def wire(answer: Answer, keep_alive: bool, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole response as uvicorn would write it: status line, uvicorn's default headers (Date,
    Server), the answer's headers, `connection: close` when closing, the body. uvicorn replaces its
    default headers list once a second, so each variant is encoded at most once a second."""
    global _wired_headers, _wired
    if default_headers is not _wired_headers:
        _wired_headers, _wired = default_headers, {}
    key = (answer, keep_alive)
    data = _wired.get(key)
    if data is None:
        parts = [STATUS_LINE[answer.status]]
        for name, value in (*default_headers, *answer.raw_headers):
            parts += [name, b": ", value, b"\r\n"]
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts += [b"\r\n", answer.body]
        data = _wired[key] = b"".join(parts)
    return data


def bound(front: Any, header_timeout: float) -> type[ContainerProtocol]:
    """The protocol class for one worker: uvicorn builds one instance per connection."""
    return type("BoundContainerProtocol", (ContainerProtocol,), {"front": front, "header_timeout": header_timeout})

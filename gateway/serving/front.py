"""The granian front end: /container.js answered straight from RSGI, everything else through ASGI.

Granian's RSGI interface costs far less per request than ASGI (no message dicts, headers as a
Rust mapping; measured on this machine: 0.62-0.74 x nginx on the container against 0.46-0.54 x
for the same precomputed bytes over ASGI, see bench/RESULTS.md). The container is the request
every page view makes, so it takes that path and does nothing but match two headers
(container_answers.py). Every other route is the Starlette application, reached through a small
RSGI-to-ASGI bridge below.

Why a bridge of our own: the one published adapter (rsgiadapter, 0.0.x) is young and does more
than we need; what the gateway's routes use of ASGI (request body, response start/body, streaming
for static files, disconnect) is small and is exercised end to end by the e2e suite.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from gateway.live_config import LiveConfig
from gateway.serving.container_answers import Answer, AnswersCache, answers_for
from gateway.serving.telemetry import SITE_CONTAINER_ROUTE, Telemetry, metrics_endpoint, route_label
from gateway.sites import LiveSites

log = logging.getLogger("tag_gateway")

CONTAINER_PATH = "/container.js"
METRICS_PATH = "/metrics"
ASGI = Callable[..., Any]


class Front:
    def __init__(self, live: LiveConfig | LiveSites, app: ASGI, telemetry: Telemetry, watch: bool = True) -> None:
        self.sites = sites = LiveSites.of(live)
        self.live = sites.default  # the one-site layout's config; None when serving several sites
        # /container.js only for the one-site layout; several sites' containers by exact path, with
        # each site's own answers: one dict lookup per request, no other work.
        self.container_path = CONTAINER_PATH if sites.default is not None else None
        self.site_containers = {f"/c/{name}.js": (site, sites.answers.setdefault(name, AnswersCache()))
                                for name, site in sites.sites.items()}
        self.app = app
        self.telemetry = telemetry
        self.watch = watch
        self._tasks: list[asyncio.Task] = []

    # -- granian's hooks, once per worker ---------------------------------------------------------
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Everything built so far (modules, config, container, SQLAlchemy metadata) lives as long as
        # the worker: keep it out of the cyclic collector, whose full passes over it showed up as
        # tens of milliseconds of p99 latency under load.
        gc.collect()
        gc.freeze()
        if self.watch:
            self._tasks.append(loop.create_task(self.sites.watch()))
        self._tasks.append(loop.create_task(self.telemetry.run()))

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for task in self._tasks:
            task.cancel()
        self.telemetry.flush()

    # -- one request ------------------------------------------------------------------------------
    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return  # websockets: nothing here speaks them; granian closes the connection
        started = time.perf_counter()
        method = scope.method
        if scope.path == self.container_path and (method == "GET" or method == "HEAD"):
            headers = scope.headers
            answer = answers_for(self.live.current.container).answer(
                method, headers.get("accept-encoding"), headers.get("if-none-match"))
            if answer.body:
                protocol.response_bytes(answer.status, answer.headers, answer.body)
            else:
                protocol.response_empty(answer.status, answer.headers)
            status, route = answer.status, CONTAINER_PATH
        elif scope.path == METRICS_PATH:
            status, route = metrics_endpoint(scope, protocol), METRICS_PATH
        elif (site := self.site_containers.get(scope.path)) is not None and (method == "GET" or method == "HEAD"):
            live, answers = site
            headers = scope.headers
            status = _send(protocol, answers(live.current.container).answer(
                method, headers.get("accept-encoding"), headers.get("if-none-match")))
            route = SITE_CONTAINER_ROUTE
        else:
            status, route = await _bridge(self.app, scope, protocol), route_label(scope.path)
        self.telemetry.request(scope, route, status, started, time.perf_counter())


def _send(protocol: Any, answer: Answer) -> int:
    if answer.body:
        protocol.response_bytes(answer.status, answer.headers, answer.body)
    else:
        protocol.response_empty(answer.status, answer.headers)
    return answer.status


async def _bridge(app: ASGI, scope: Any, protocol: Any) -> int:
    """Run one HTTP request through an ASGI app; returns the status it answered."""
    host, port = _address(scope.server)
    asgi_scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": scope.http_version, "method": scope.method, "scheme": scope.scheme,
        "path": scope.path, "raw_path": None, "root_path": "",
        "query_string": scope.query_string.encode("latin-1"),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
        "client": _address(scope.client), "server": (host, port), "state": {}, "extensions": {},
    }
    state = _Exchange(protocol)
    try:
        await app(asgi_scope, state.receive, state.send)
    except Exception:
        # Starlette's ServerErrorMiddleware has already answered 500 (and logged) when it could;
        # an error after the answer started can only close the stream.
        log.exception("unhandled error in %s %s", scope.method, scope.path)
        if not state.started:
            protocol.response_bytes(500, [("content-type", "application/json")],
                                    b'{"error":{"code":"internal_error","message":"unexpected error"}}')
            state.status = 500
    await state.finish()
    return state.status


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else 0


class _Exchange:
    """The receive/send pair of one request."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.body_iter = protocol.__aiter__()
        self.body_done = False
        self.started = False
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.stream: Any = None

    async def receive(self) -> dict[str, Any]:
        if not self.body_done:
            try:
                chunk = await self.body_iter.__anext__()
            except StopAsyncIteration:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        await self.protocol.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())]
            return
        if kind != "http.response.body":
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.stream is None and not more:
            self.started = True
            if body:
                self.protocol.response_bytes(self.status, self.headers, body)
            else:
                self.protocol.response_empty(self.status, self.headers)
            return
        if self.stream is None:
            self.started = True
            self.stream = self.protocol.response_stream(self.status, self.headers)
        if body:
            await self.stream.send_bytes(body)

    async def finish(self) -> None:
        if not self.started and self.status:
            self.protocol.response_empty(self.status, self.headers)

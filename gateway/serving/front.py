"""What each worker hands uvicorn: the container routes for the fast path, and the ASGI app around Starlette.

The fast path (fast_protocol.py) looks a request's path up in `containers` and answers from the
precomputed bytes. Everything else arrives here as ASGI: `/metrics` is answered directly (it must
not count as a Starlette route nor pass its middleware), every other request goes to Starlette,
and each one is counted and logged (telemetry.py) the way the fast path counts its own.

The lifespan also starts what each worker runs beside the requests: the telemetry flush here, the
config watcher and the delivery thread of server-side events in Starlette's lifespan (app.py).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from gateway.live_config import LiveConfig
from gateway.serving.container_answers import AnswersCache, ContainerAnswers, answers_for
from gateway.serving.telemetry import SITE_CONTAINER_ROUTE, Telemetry, metrics_endpoint, route_label
from gateway.sites import LiveSites

CONTAINER_PATH = "/container.js"
METRICS_PATH = "/metrics"
ASGI = Callable[..., Any]
# raw request path -> (metrics label, path for the access log, the answers of the container being served)
ContainerRoute = tuple[str, str, Callable[[], ContainerAnswers]]


def container_routes(live: LiveConfig | LiveSites) -> dict[bytes, ContainerRoute]:
    """/container.js for the one-site layout; each site's /c/<name>.js with its own answers cache."""
    sites = LiveSites.of(live)
    routes: dict[bytes, ContainerRoute] = {}
    if sites.default is not None:
        default = sites.default
        routes[CONTAINER_PATH.encode()] = (CONTAINER_PATH, CONTAINER_PATH, lambda: answers_for(default.current.container))
    for name, site in sites.sites.items():
        cache = sites.answers.setdefault(name, AnswersCache())
        path = f"/c/{name}.js"
        routes[path.encode()] = (SITE_CONTAINER_ROUTE, path,
                                 lambda site=site, cache=cache: cache(site.current.container))
    return routes


class Front:
    def __init__(self, live: LiveConfig | LiveSites, app: ASGI, telemetry: Telemetry) -> None:
        self.containers = container_routes(live)
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._request(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        # websockets: uvicorn runs with ws="none", so none arrive

    async def _request(self, scope: dict, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        path = scope["path"]
        if path == METRICS_PATH:
            status = await metrics_endpoint(scope, send)
        else:
            status = 0

            async def sending(message: dict) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:  # an app that failed before answering: uvicorn answers 500
                status = status or 500
                self.telemetry.request(_host(scope), scope["method"], path, scope["http_version"],
                                       route_label(path), status, started, time.perf_counter())
            return
        self.telemetry.request(_host(scope), scope["method"], path, scope["http_version"], METRICS_PATH, status,
                               started, time.perf_counter())

    async def _lifespan(self, scope: dict, receive: Any, send: Any) -> None:
        # Everything built so far (modules, config, container, SQLAlchemy metadata) lives as long as
        # the worker: keep it out of the cyclic collector, whose full passes over it showed up as
        # tens of milliseconds of p99 latency under load.
        gc.collect()
        gc.freeze()
        flusher = asyncio.get_running_loop().create_task(self.telemetry.run())
        try:
            await self.app(scope, receive, send)  # Starlette's lifespan: config watcher, delivery thread
        finally:
            flusher.cancel()
            self.telemetry.flush()


def _host(scope: dict) -> str:
    client = scope.get("client")
    return client[0] if client else ""

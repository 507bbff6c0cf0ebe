"""What the server tells its operator: an access log and Prometheus metrics, both off the hot path.

A request only bumps a few local counters and, with the access log on, appends one tuple (no lock,
no formatting, no I/O). Four times a second the event loop swaps those out, folds them into the
metrics, formats the log lines in slices between requests, and hands the text to a thread to write: it writes the access log lines and folds the requests into the
Prometheus metrics. Metrics use prometheus_client's multi-process mode (PROMETHEUS_MULTIPROC_DIR,
set by `gateway serve`), so /metrics answered by any worker covers all of them.

Access log lines carry the client's network prefix (/24, /48: the same truncation as the consent
log), never a full address, and the path without its query string (store URLs can carry e-mail
addresses or order numbers).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from gateway.store.ip import truncate_ip

access_log = logging.getLogger("tag_gateway.access")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
# Label values for routes: a fixed set, so a crawler requesting random paths cannot grow the series.
ROUTES = frozenset({"/container.js", "/consent", "/ui", "/ui.js", "/healthz", "/metrics", "/email/tokens", "/email/stats"})
# Several sites (gateway/sites.py): one label per kind of endpoint, whatever the site's name.
SITE_CONTAINER_ROUTE = "/c/{site}.js"
SITE_ROUTES = {"consent": "/c/{site}/consent", "ui": "/c/{site}/ui", "ui.js": "/c/{site}/ui.js"}

REQUESTS = Counter("tag_gateway_http_requests", "HTTP requests answered", ["route", "status"])
LATENCY = Histogram("tag_gateway_http_request_duration_seconds", "Time from request to answer inside the worker",
                    ["route"], buckets=LATENCY_BUCKETS)
DECISIONS = Counter("tag_gateway_consent_decisions", "Consent decisions recorded and acknowledged", ["action"])
LOG_FAILURES = Counter("tag_gateway_consent_log_write_failures", "Consent decisions refused because the log could not store them")
RELOADS = Counter("tag_gateway_config_reloads", "Config reloads seen, by result", ["result"])
CONFIG_DEGRADED = Gauge("tag_gateway_config_degraded", "1 while the last config edit is invalid (the previous config is served)",
                        multiprocess_mode="max")


LOG_SLICE = 128  # access-log lines formatted between two turns of the event loop


def route_label(path: str) -> str:
    if path in ROUTES:
        return path
    if path.startswith("/c/"):
        name, slash, rest = path[3:].partition("/")
        if not slash and name.endswith(".js"):
            return SITE_CONTAINER_ROUTE
        return SITE_ROUTES.get(rest, "other") if name else "other"
    return "other"


class Telemetry:
    def __init__(self, live: Any = None, access_log_enabled: bool = True, interval: float = 0.25) -> None:
        self.live = live
        # Every site's live config (one, or several: gateway.sites.LiveSites)
        self.lives = [] if live is None else [l for _, l in live.all()] if hasattr(live, "all") else [live]
        self.access_log_enabled = access_log_enabled
        self.interval = interval
        # Both are touched only on the event loop's thread (requests, take(), fold()): no lock needed.
        self.stats: dict[tuple[str, int], list[float]] = {}  # (route, status) -> [count, *buckets, sum]
        self.lines: list[tuple] = []
        self._prefixes: dict[str, str] = {}  # client address -> network prefix, across flushes
        self._seen_snapshot = [l.current for l in self.lives]
        self._seen_error = [l.last_error for l in self.lives]

    def request(self, client: str, method: str, path: str, http_version: str, route: str, status: int,
                started: float, ended: float) -> None:
        """The only call on the request path: a few counter updates and, with the access log, one append.

        Only plain strings are kept until the flush (`client` is the peer's address without its port;
        the fast path has no request object at all)."""
        seconds = ended - started
        entry = self.stats.get((route, status))
        if entry is None:
            entry = self.stats[(route, status)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        entry[0] += 1
        entry[1 + bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        entry[-1] += seconds
        if self.access_log_enabled:
            self.lines.append((client, method, path, http_version, status, started, seconds))

    def take(self) -> tuple[dict, list]:
        """Swap out what was gathered; called on the event loop's thread, so no request is mid-update."""
        stats, lines = self.stats, self.lines
        self.stats, self.lines = {}, []
        return stats, lines

    async def run(self) -> None:
        # Formatting runs on the event loop in slices, not in a thread: a CPU-bound thread beside
        # the loop makes the two hand the GIL back and forth every switch interval, which cost
        # a third of the throughput and tripled p99 in measurements. Only the write is a thread's.
        while True:
            await asyncio.sleep(self.interval)
            stats, lines = self.take()
            self.fold(stats)
            if lines:
                text = []
                for start in range(0, len(lines), LOG_SLICE):
                    text.append("\n".join(self._format(lines[start:start + LOG_SLICE])))
                    await asyncio.sleep(0)  # let requests in between slices
                await asyncio.to_thread(access_log.info, "\n".join(text))

    def flush(self) -> None:
        """Everything gathered so far, at once (at shutdown)."""
        stats, lines = self.take()
        self.fold(stats)
        if lines:
            access_log.info("\n".join(self._format(lines)))

    def fold(self, stats: dict) -> None:
        """Add gathered requests to the metrics: a few updates per route and status, not per request."""
        self._watch_config()
        for (route, status), entry in stats.items():
            REQUESTS.labels(route, str(status)).inc(entry[0])
            _observe_many(LATENCY.labels(route), entry[1:])

    def _format(self, lines: list[tuple]) -> list[str]:
        wall_offset = time.time() - time.perf_counter()  # turns perf_counter readings into wall time
        stamps: dict[int, str] = {}
        prefixes = self._prefixes
        if len(prefixes) > 4096:
            prefixes.clear()
        out = []
        for host, method, path, version, status, started, seconds in lines:
            prefix = prefixes.get(host)
            if prefix is None:
                prefix = prefixes[host] = truncate_ip(host) or "-"
            second = int(wall_offset + started)
            stamp = stamps.get(second)
            if stamp is None:
                stamp = stamps[second] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
            out.append(f'{prefix} [{stamp}] "{method} {_printable(path)} HTTP/{version}" {status} {seconds * 1000:.2f}ms')
        return out

    def _watch_config(self) -> None:
        if not self.lives:
            return
        for index, live in enumerate(self.lives):
            if live.current is not self._seen_snapshot[index]:
                self._seen_snapshot[index] = live.current
                RELOADS.labels("ok").inc()
            if live.last_error is not self._seen_error[index]:
                self._seen_error[index] = live.last_error
                if live.last_error is not None:
                    RELOADS.labels("error").inc()
        CONFIG_DEGRADED.set(1 if any(live.last_error is not None for live in self.lives) else 0)


def _observe_many(child: Any, sample: list[float]) -> None:
    """Add pre-bucketed observations to a histogram child in one step per bucket.

    prometheus_client has no bulk observe; calling observe() per request would put its per-call
    cost (a lock and an mmap write per bucket in multi-process mode) back on every request. The
    child's bucket values are non-cumulative, one per upper bound, and tests/test_serving.py reads
    /metrics to check the result, so a library change that breaks this fails there.
    """
    for index, count in enumerate(sample[:-1]):
        if count:
            child._buckets[index].inc(count)
    child._sum.inc(sample[-1])


def _printable(path: str) -> str:
    # A path is decoded text from the client: keep the log one line per request, quotes balanced.
    if path.isascii() and path.isprintable() and '"' not in path and len(path) <= 300:
        return path
    return path.encode("unicode_escape").decode("ascii").replace('"', '\\"')[:300]


METRICS_TOKEN_ENV = "TAG_GATEWAY_METRICS_TOKEN"


async def metrics_endpoint(scope: dict, send: Any) -> int:
    """GET /metrics (ASGI): the Prometheus text format for all workers, for a scraper holding the token.

    Counts of visitors' decisions are business data, so the endpoint is closed unless the operator
    sets TAG_GATEWAY_METRICS_TOKEN; Prometheus sends it as `authorization: Bearer <token>`.
    """
    import hmac
    import os

    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    async def respond(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    def refuse(status: int, code: str, message: str) -> Any:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        return respond(status, [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                (b"x-content-type-options", b"nosniff")], body)

    if scope["method"] not in ("GET", "HEAD"):
        return await refuse(405, "method_not_allowed", "use GET")
    token = os.environ.get(METRICS_TOKEN_ENV, "")
    if not token:
        return await refuse(404, "metrics_disabled", f"set {METRICS_TOKEN_ENV} on the gateway to enable /metrics")
    given = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        return await refuse(401, "unauthorized", "send the metrics token as: Authorization: Bearer <token>")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return await respond(200, [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"cache-control", b"no-store")],
                         generate_latest(registry))

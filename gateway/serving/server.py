"""`gateway serve`: uvicorn (httptools, uvloop) in N forked worker processes, with the container
answered inside the HTTP protocol (fast_protocol.py) and everything else through the Front (front.py).

Why uvicorn with a protocol-level fast path: issue 8 asks `GET /container.js` to reach half of
nginx serving the same bytes (304 revalidation 0.45 x) with p99 <= 8 ms at 64 connections on
2 cores. Granian's RSGI interface was at its floor there: ~0.45 x nginx for the 200 and ~0.28 x for
the 304 (bench/RESULTS.md), the request cost being granian's own per-request path, not ours.
A probe on the same machine, uvicorn 0.55 with 2 workers and a subclass of its httptools protocol
that writes precomputed bytes from `on_headers_complete` (no ASGI cycle, no task), answered
92-98k req/s against nginx's 62-83k in the same runs, for the 200 (8 KB body) and for the 304.
The production protocol does more per request than the probe (Accept-Encoding q-values, the
ETag match, uvicorn's Date/Server headers, telemetry and the access log, the pipelining and
flow-control checks). Measured on this branch, same machine, while other jobs kept it at a load
of 4-5 on its 2 cores (so absolute figures are low and noisy):
* interleaved 5 s wrk -t2 -c64 runs against nginx with the same gzip bytes, 3 rounds:
  GET 200: 0.85, 0.97, 0.59 x nginx (granian from main in the same rounds: 0.39, 0.41, 0.52 x);
  304: 0.53, 0.64, 0.48 x (granian: 0.31, 0.40, 0.33 x); p99 4.5-5.8 ms at 200 in the two
  quieter rounds (nginx 5.8 ms), tens of ms in the third, nginx's too.
* `python -m bench --no-browser`: GET 200 0.50 x (8,445 vs 14,127 req/s, p99 123.7 vs 52.5 ms),
  304 0.42 x (10,214 vs 28,193 req/s, p99 54.4 vs 35.9 ms): nginx itself at a fifth of its
  quiet-machine rate. POST /consent durable / write off: SQLite 0.57 x (1,043 req/s), PostgreSQL
  0.69 x (1,191 req/s); POST /collect: SQLite 0.77 x, PostgreSQL 0.85 x.
* bench/RESULTS.md after the switch (2026-12-06, an idle VM on a busy host: nginx at 18-39k req/s instead
  of 60-135k): GET 200 0.50 x, 304 0.57 x; p99 33-77 ms, nginx's 21-43 ms, so the 8 ms target could not be
  judged that day. Most of that was the harness's own doing: its GET loads overlapped the /collect
  servers' deliveries. Since each load waits for a quiet machine (bench/quiet.py), five runs on one
  day gave GET 200 0.69-0.81 x with p99 5.3-8.8 ms (nginx 5.3-6.9 ms), 304 0.49-0.56 x with p99
  6.6-9.6 ms (nginx 5.8-6.5 ms).
Every other route runs on uvicorn's own ASGI path: the POST rates above are within a few per cent of
bench/RESULTS.md's under granian (1,081 and 1,302 req/s) although this machine was far busier.

What uvicorn lacks is added in the protocol: a deadline for request headers (`--header-timeout`,
slow clients cannot hold a connection) and a cap on their size; uvicorn's `limit_concurrency`
answers 503 beyond MAX_CONNECTIONS per worker instead of queuing without bound.

The master process validates the config, makes sure the signing secret exists (so workers never
race to create it), migrates the consent log and binds the socket; then it forks the workers
(supervisor.py says why not uvicorn's spawn-based supervisor) and replaces any that dies. Workers
start from the configuration the master built; each opens its own consent log and runs its own
config watcher. Nothing else is shared between workers but the listening socket, the files
(config, secret, database, rate-limit buckets) and the metrics directory.
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MASTER_PID_ENV = "TAG_GATEWAY_MASTER_PID"
PR_SET_PDEATHSIG = 1
HEADER_TIMEOUT_SECONDS = 10  # a client has this long to send its request headers (slowloris)
MAX_CONNECTIONS = 4096       # per worker; beyond it uvicorn answers 503 (the container's fast path still answers)
BACKLOG = 2048               # connections the kernel queues before a worker accepts them
KEEP_ALIVE_SECONDS = 5       # an idle keep-alive connection is closed after this
GRACE_SECONDS = 10           # on SIGTERM, requests in flight get this long to finish
# The garbage collector's first threshold in a worker (Python's default: 700). A durable POST /consent keeps its
# decision's objects (the row, its pending hash, the caller's future) alive until its batch commits, a few ms:
# at 700 the collector ran often enough to find them still alive, moved them to older generations and scanned
# them again there. Measured under load (2 workers, perf on the whole machine): 1.6% of all CPU in the collector
# with the durable write against 0.1% with it off; 0.6% at 2,000; too little to show at 7,000. A collection of
# 7,000 young objects is still well under a millisecond.
YOUNG_GENERATION_THRESHOLD = 7000
# How long a worker's event loop may keep the GIL while another of its threads waits for it (Python's default:
# 5 ms). The SQLite committer thread (gateway/store/loop_commit.py) needs the GIL back after each COMMIT and again
# after giving back the write turn, while the loop, busy serving requests, lets go of it only when forced to: the
# batch's callers and, holding the turn meanwhile, the other workers' batches waited up to twice that long.
# Measured on 2 cores (wrk -c64 POST /consent, durable, SQLite, 2 workers, 4 pairs of back-to-back 10 s loads):
# more requests/s at 1 ms than at 5 ms in every pair (8, 8, 13 and, on a noisy moment, 41%); 0.5 ms gained no more
# (7 and 9%). Only threads that wait for the GIL are affected (the committers, the delivery thread, the access log).
GIL_SWITCH_INTERVAL = 0.001


@dataclass(frozen=True)
class ServeSettings:
    config: str
    store: str | None
    watch: bool
    access_log: bool


def worker(settings: ServeSettings, live, sock: socket.socket, header_timeout: float) -> None:
    """One worker process (forked by the master): build the app on the master's config and serve."""
    _die_with_master()
    import uvicorn

    from gateway.app import create_app
    from gateway.secret import load_secret
    from gateway.serving.fast_protocol import bound
    from gateway.serving.front import Front
    from gateway.serving.telemetry import Telemetry
    from gateway.store import ConsentLog

    app = create_app(live, load_secret(), ConsentLog.open(), store_dir=Path(settings.store) if settings.store else None,
                     watch=settings.watch)  # the watcher and the delivery thread run in the app's lifespan
    front = Front(live, app, Telemetry(live, settings.access_log))
    config = uvicorn.Config(
        front, http=bound(front, header_timeout), loop="uvloop", ws="none", lifespan="on",
        # The gateway decides itself whom to trust for X-Forwarded-* (site.trusted_proxies):
        # uvicorn must hand it the real peer address.
        proxy_headers=False, access_log=False,  # the access log is telemetry.py's
        log_config=logging_config(settings.access_log), log_level="warning",
        limit_concurrency=MAX_CONNECTIONS, backlog=BACKLOG, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    uvicorn.Server(config).run(sockets=[sock])


def _die_with_master() -> None:
    """A worker whose master was killed (SIGKILL, OOM) must not go on serving on its own: an orphan
    keeps the port, runs an old config and escapes `systemctl stop`. Linux only (prctl)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    master = int(os.environ[MASTER_PID_ENV])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != master:  # the master died before prctl took effect
        os._exit(1)


def logging_config(access_log: bool) -> dict:
    plain = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"gateway": {"format": "%(levelname)s: %(message)s"}, "access": {"format": "%(message)s"},
                       "uvicorn": {"format": "uvicorn %(levelname)s: %(message)s"}},
        "handlers": {"gateway": {**plain, "formatter": "gateway"}, "access": {**plain, "formatter": "access"},
                     "uvicorn": {**plain, "formatter": "uvicorn"}},
        "loggers": {
            "tag_gateway": {"handlers": ["gateway"], "level": "INFO", "propagate": False},
            "tag_gateway.access": {"handlers": ["access"], "level": "INFO" if access_log else "WARNING", "propagate": False},
            "uvicorn": {"handlers": ["uvicorn"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound by the master before any worker exists."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once, past TIME_WAIT
    sock.bind(address)
    sock.listen(BACKLOG)
    return sock


def _raise_open_file_limit(wanted: int) -> None:
    """Each connection is a file descriptor: the usual soft limit (1024) would refuse connections
    long before MAX_CONNECTIONS. Raised up to the hard limit, which the operator controls."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run(settings: ServeSettings, live, host: str, port: int, workers: int,
        header_timeout: int = HEADER_TIMEOUT_SECONDS) -> int:
    """Serve until stopped; returns the exit code. `live` is the config the master checked."""
    from gateway.serving.supervisor import supervise

    # prometheus_client picks its multi-process mode when first imported, which happens in the workers.
    assert "prometheus_client" not in sys.modules, "gateway serve imported prometheus_client too early"
    try:
        sock = listen(host, port)
    except OSError as error:
        print(f"tag-gateway: cannot listen on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    _raise_open_file_limit(MAX_CONNECTIONS + 1024)
    metrics_dir = Path(tempfile.mkdtemp(prefix="tag-gateway-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[MASTER_PID_ENV] = str(os.getpid())
    try:
        return supervise(lambda: worker(settings, live, sock, header_timeout), workers,
                         grace=GRACE_SECONDS + 5)
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

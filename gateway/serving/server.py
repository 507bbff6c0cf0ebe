"""`gateway serve`: granian with N worker processes, each running the Front (front.py).

Why granian: on this 2-core machine, serving the same precomputed container bytes with 2 workers,
granian's RSGI interface reached 0.62-0.74 x nginx (p99 2.9-3.9 ms at 64 connections), granian's
ASGI 0.46-0.54 x and uvicorn with uvloop and httptools 0.44 x (p99 5.4-6 ms). It also reads request
headers in Rust with a deadline (slow clients cannot hold a worker) and limits the requests a
worker takes at once.

The master process validates the config, makes sure the signing secret exists (so workers never
race to create it) and migrates the consent log, then granian starts the workers. Forked workers start from the
configuration the master built (no second container build); each opens its own consent log and runs
its own config watcher. Nothing else is shared between workers but the files (config, secret,
database, rate-limit buckets) and the metrics directory.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

SETTINGS_ENV = "TAG_GATEWAY_SERVE_SETTINGS"
MASTER_PID_ENV = "TAG_GATEWAY_MASTER_PID"
PR_SET_PDEATHSIG = 1
HEADER_TIMEOUT_SECONDS = 10  # a client has this long to send its request headers (slowloris); granian allows <= 60
MAX_CONCURRENT_REQUESTS = 1024   # per worker; beyond it granian waits before reading more requests


@dataclass(frozen=True)
class ServeSettings:
    config: str
    store: str | None
    watch: bool
    access_log: bool


# The master's configuration, inherited by workers that granian forks (Linux): they start serving
# without building the container again. A worker started any other way loads it itself.
_prebuilt = None


def worker_app():
    """granian's factory target, called once in each worker process."""
    from gateway.app import create_app
    from gateway.secret import load_secret
    from gateway.serving.front import Front
    from gateway.serving.telemetry import Telemetry
    from gateway.sites import LiveSites
    from gateway.store import ConsentLog

    _die_with_master()
    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    live = _prebuilt if _prebuilt is not None else LiveSites.load(settings.config)  # one site or several
    app = create_app(live, load_secret(), ConsentLog.open(), store_dir=Path(settings.store) if settings.store else None,
                     watch=False)  # the Front runs the watcher: granian does not send ASGI lifespan events to it
    app.state.forwarding.start()  # the outbox's delivery thread, one per worker (no lifespan here either)
    return Front(live, app, Telemetry(live, settings.access_log), watch=settings.watch)


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
                       "granian": {"format": "granian %(levelname)s: %(message)s"}},
        "handlers": {"gateway": {**plain, "formatter": "gateway"}, "access": {**plain, "formatter": "access"},
                     "granian": {**plain, "formatter": "granian"}},
        "loggers": {
            "tag_gateway": {"handlers": ["gateway"], "level": "INFO", "propagate": False},
            "tag_gateway.access": {"handlers": ["access"], "level": "INFO" if access_log else "WARNING", "propagate": False},
            "_granian": {"handlers": ["granian"], "level": "WARNING", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "WARNING", "propagate": False},
        },
    }


def run(settings: ServeSettings, live, host: str, port: int, workers: int,
        header_timeout: int = HEADER_TIMEOUT_SECONDS) -> None:
    """Serve until stopped. `live` is the config the master checked; forked workers start from it."""
    global _prebuilt
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    # prometheus_client picks its multi-process mode when first imported, which happens in the workers.
    assert "prometheus_client" not in sys.modules, "gateway serve imported prometheus_client too early"
    metrics_dir = Path(tempfile.mkdtemp(prefix="tag-gateway-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    os.environ[MASTER_PID_ENV] = str(os.getpid())
    _prebuilt = live
    server = Granian(
        "gateway.serving.server:worker_app", factory=True, interface=Interfaces.RSGI,
        address=host, port=port, workers=workers, websockets=False,
        backpressure=MAX_CONCURRENT_REQUESTS,
        http1_settings=HTTP1Settings(header_read_timeout=header_timeout * 1000),
        log_dictconfig=logging_config(settings.access_log), log_level="warning",
        respawn_failed_workers=True,
    )
    try:
        server.serve()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)



"""A per-client limit on POST /consent, shared by every worker process on this host.

Semantics: each client address (an IPv6 client by its /64, the block one subscriber gets) has
a bucket of `requests` tokens that refills evenly over `per_seconds`; a POST takes one token,
and a POST that finds none gets 429 with `Retry-After` (the seconds until one is back). The
buckets live in one small SQLite file per gateway (config folder and consent log) in a private
temp directory, so N worker processes (or several `gateway serve` on one host for the same
config and log) share one budget: the limit is per client per host, not per process. Each check is a single UPSERT
(WAL, no fsync: the counts are not worth a disk flush and are rebuilt empty after a reboot).

The processes take turns on the file (gateway/turns.py) rather than meet SQLite's busy waits, which
slept a request for up to 100 ms whenever two workers checked at once: under load, POST /consent had
a p99 near a second with nothing else to wait for. A check (about 15 us) runs on the event loop when
the turn is free; when another process holds it, the loop serves other requests and tries again a
little later. (Every check in a thread cost more than the check itself: the hand-off, and the GIL
passed back and forth with the loop. Measured with the consent write off, 2 workers, 64 connections:
2,300-3,400 POST /consent a second with a p99 of 150-890 ms before; 4,500-4,800 with a p99 near 55 ms
with the turns, and checks on the loop.)

Only POST /consent and POST /collect pay for it; GET /container.js never touches it. If the file
cannot be used, requests are let through and the log says why: a broken limiter must not stop
visitors' choices from being recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import os
import sqlite3
import stat
import tempfile
import threading
import time
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from gateway.turns import FileTurns

log = logging.getLogger("tag_gateway")

# Seconds between tries of a busy turn, about 59 ms in all: a check holds it for microseconds, but its holder
# may be descheduled, or waiting for its own process's GIL, for a few milliseconds.
BUSY_PAUSES = (0.0001, 0.0002, 0.0005, 0.001, 0.002) + (0.005,) * 11
PRUNE_EVERY = 1000  # checks per process between deletions of buckets that are full again

_SCHEMA = """CREATE TABLE IF NOT EXISTS buckets (
    client TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL) WITHOUT ROWID"""

# Refill by the time elapsed (never negative: the clock may step back), cap at the budget,
# then take one token if there is one. SQLite evaluates every SET expression on the old row.
_TAKE = """INSERT INTO buckets (client, tokens, at, ok) VALUES (:client, :cap - 1, :now, 1)
ON CONFLICT (client) DO UPDATE SET
    ok = min(:cap, tokens + max(0, :now - at) * :rate) >= 1,
    tokens = min(:cap, tokens + max(0, :now - at) * :rate) - (min(:cap, tokens + max(0, :now - at) * :rate) >= 1),
    at = max(at, :now)
RETURNING ok, tokens"""


class RateLimitUnavailable(Exception):
    pass


def client_key(address: str | None) -> str:
    """The bucket of an address: itself for IPv4, its /64 for IPv6 (one subscriber's block)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def default_path(config_dir: Path, log_url: str) -> Path:
    """One file per gateway (its config folder and consent log), in a directory only this user can enter, inside
    the service's runtime directory (`$RUNTIME_DIRECTORY`, which systemd's RuntimeDirectory= sets and removes at
    stop) or else the temp directory.

    Every worker of one `gateway serve` shares it; two gateways that share a config folder but
    write to different consent logs (tests, staging next to production) do not."""
    gateway = "\0".join((str(config_dir.resolve()), log_url, os.getcwd()))  # cwd: a relative sqlite:/// path
    digest = hashlib.sha256(gateway.encode()).hexdigest()[:16]
    # systemd gives one path per RuntimeDirectory= entry, separated by colons: the first is this service's.
    base = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or tempfile.gettempdir()
    return Path(base) / f"tag-gateway-{os.getuid()}" / f"rate-limit-{digest}.sqlite3"


def _private_dir(directory: Path) -> None:
    # /tmp is shared: another local user could pre-create the directory (or a symlink) to read or
    # reset the counts, so use it only if it is a real directory of ours that nobody else can enter.
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
    except OSError as error:
        raise RateLimitUnavailable(f"cannot create {directory}: {error}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RateLimitUnavailable(f"{directory} is not a private directory of this user (mode 0700); remove it")


def _remove_stale(directory: Path) -> None:
    """Delete other gateways' files untouched for a day (every bucket in them is full again: the
    same as no file) that no process has open (an open WAL database always has its -shm file)."""
    cutoff = time.time() - 86400
    for path in directory.glob("rate-limit-*.sqlite3"):
        try:
            if path.stat().st_mtime < cutoff and not Path(f"{path}-shm").exists():
                path.unlink()
                for leftover in ("-wal", "-turn"):
                    Path(f"{path}{leftover}").unlink(missing_ok=True)
        except OSError:
            pass  # another process got there first, or it is not ours to remove


class RateLimiter:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        self._turns = FileTurns(path.with_name(path.name + "-turn"))
        self._db: sqlite3.Connection | None = None
        self._checks = 0
        self._broken = False

    def _prepare_directory(self) -> None:
        """The private directory (the turn's file lives in it too), swept of other gateways' stale files."""
        _private_dir(self.path.parent)
        _remove_stale(self.path.parent)

    def _connect(self) -> sqlite3.Connection:
        """Open the database; call with the turn held. Switching a new file to WAL and creating its table take
        SQLite's write lock, and with several processes opening the file at once (a server's workers starting
        together) SQLite may answer "database is locked" without waiting its timeout: seen in CI, 4 processes on
        a busy machine, the limiter off for one of them. Under the turn they open it one after another."""
        db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            # Keep the WAL small: a busy gateway otherwise leaves a 4 MB file behind in /tmp.
            db.execute("PRAGMA wal_autocheckpoint=64")
            db.execute("PRAGMA journal_size_limit=262144")
            db.execute(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def open(self) -> None:
        """Connect now, from a thread at a worker's start: the first check would otherwise do it on the event loop,
        with the sweep of stale files (one stat per file in the directory). A failure is left to the first
        check, which reports it once."""
        with self._lock:
            if self._db is None:
                try:
                    self._prepare_directory()
                    with self._turns.turn():
                        self._db = self._connect()
                except (sqlite3.Error, OSError, RateLimitUnavailable):
                    pass

    async def check(self, client: str, requests: int, per_seconds: int) -> float:
        """`wait`, from an event loop: on the loop whenever the turn is free. While another process holds it
        (for a check of its own), the loop serves others and looks again a little later; only after
        BUSY_PAUSES does the check wait in a thread (a thread that waits holds the limiter's thread lock,
        which would send the next checks there too)."""
        for pause in BUSY_PAUSES:
            if self._lock.acquire(blocking=False):
                try:
                    answer = self._check(client, requests, per_seconds, None, wait_for_turn=False)
                finally:
                    self._lock.release()
                if answer is not None:
                    return answer
            await asyncio.sleep(pause)
        return await run_in_threadpool(self.wait, client, requests, per_seconds)

    def wait(self, client: str, requests: int, per_seconds: int, now: float | None = None) -> float:
        """0 if `client` may send one more request now (and count it), else the seconds to wait. Blocks
        while another thread or process checks."""
        with self._lock:
            return self._check(client, requests, per_seconds, now, wait_for_turn=True)

    def _check(self, client: str, requests: int, per_seconds: int, now: float | None,
               wait_for_turn: bool) -> float | None:
        """The check, with the thread lock held; None: another process holds the turn (when not waiting)."""
        now = time.time() if now is None else now
        rate = requests / per_seconds
        try:
            if self._db is None:
                self._prepare_directory()
            if wait_for_turn:
                self._turns.take()
            elif not self._turns.try_take():
                return None
            try:
                if self._db is None:
                    self._db = self._connect()
                ok, tokens = self._db.execute(_TAKE, {"client": client, "cap": requests, "now": now,
                                                      "rate": rate}).fetchone()
                self._checks += 1
                if self._checks % PRUNE_EVERY == 0:
                    # A bucket untouched for per_seconds is full again: the same as no row at all.
                    self._db.execute("DELETE FROM buckets WHERE at < ?", (now - per_seconds,))
            finally:
                self._turns.give_back()
        except (sqlite3.Error, OSError, RateLimitUnavailable) as error:
            if not self._broken:
                log.error("rate limit not applied (%s: %s); fix or remove %s",
                          error.__class__.__name__, error, self.path)
            self._broken = True
            return 0.0
        self._broken = False
        return 0.0 if ok else max(1.0, math.ceil((1 - tokens) / rate))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._turns.close()

"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` package, started in a temp dir
on a free port on 127.0.0.1, stopped (and its files removed) at the end of the session.

`initdb` and `postgres` refuse to run as root, so as root they run as the `postgres` user
(`runuser`), in a directory handed to that user. `./dev test` installs the package when it is
missing. Without PostgreSQL the tests that need it FAIL, unless TAG_GATEWAY_TESTS_WITHOUT_POSTGRES=1
is set (a developer's explicit opt-out; CI never sets it), in which case they are skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

OPT_OUT = "TAG_GATEWAY_TESTS_WITHOUT_POSTGRES"
BINDIR = "TAG_GATEWAY_POSTGRES_BINDIR"  # optional: the bin/ of one PostgreSQL install among several
SUPERUSER = "postgres"


class PostgresUnavailable(Exception):
    pass


def find_bindir() -> Path:
    """$TAG_GATEWAY_POSTGRES_BINDIR, else the newest /usr/lib/postgresql/N/bin, else the directory of `initdb` on PATH."""
    if os.environ.get(BINDIR):
        chosen = Path(os.environ[BINDIR])
        if not (chosen / "initdb").exists():
            raise PostgresUnavailable(f"{BINDIR}={chosen} holds no initdb")
        return chosen
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable("PostgreSQL is not installed (no initdb): `apt-get install postgresql` "
                              f"(./dev test does it as root), or set {OPT_OUT}=1 to skip the PostgreSQL tests")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        # As root, under /tmp: the postgres user must be able to reach it (a root-only TMPDIR would not do).
        self.root = Path(tempfile.mkdtemp(prefix="tag-gateway-pg-", dir="/tmp" if self.as_root else None))
        self.data = self.root / "data"
        self.port = free_port()
        if self.as_root:
            try:
                shutil.chown(self.root, user=SUPERUSER)
            except (LookupError, OSError) as error:
                raise PostgresUnavailable(f"cannot hand {self.root} to the {SUPERUSER} user: {error}") from None
        self.started = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailable(f"{args[0]}: {error}") from None
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {(result.stderr or result.stdout).strip()}")
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync", "--no-instructions")

    def start(self, durable: bool = False) -> None:
        # fsync off: a test server's data need not survive a power cut, and CREATE DATABASE per test stays
        # fast; small shared buffers and few connections keep it light. The log's own durability is the server's
        # commit, with the server's settings in production.
        # durable (the benchmark): PostgreSQL's default settings (fsync and full-page writes on, so a commit waits
        # for its WAL on disk as in production; 128 MB of shared buffers, where 16 MB made each insert into the
        # records' indexes, grown past them by the loads, read and evict pages).
        tuning = "" if durable else "-c max_connections=60 -c shared_buffers=16MB -c fsync=off -c full_page_writes=off "
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} {tuning}-c log_min_messages=warning"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "30",
                  "start")
        self.started = True

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", scheme: str = "postgresql") -> str:
        return f"{scheme}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(durable: bool = False) -> PostgresServer:
    """Init and start a server (durable: with fsync, for the benchmark); measured in `started_in` (seconds)."""
    began = time.perf_counter()
    server = PostgresServer()
    try:
        server.init()
        server.start(durable)
    except BaseException:
        server.cleanup()
        raise
    server.started_in = time.perf_counter() - began  # type: ignore[attr-defined]
    return server

"""`gateway serve` as a subprocess, for tests of the production server itself (no browser)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class ServedGateway:
    """`gateway serve ARGS` in a session (process group) of its own, so a signal reaches the master and its
    workers together. Use as a context manager, or start() and stop()."""

    def __init__(self, *args: str, config: Path = REPO / "tag_configs", database_url: str | None = None,
                 workdir: Path | None = None, watch: bool = False, env: dict[str, str] | None = None) -> None:
        self.scratch = tempfile.TemporaryDirectory(prefix="tag-gateway-serve-")
        self.workdir = Path(workdir or self.scratch.name)
        self.port = free_port()
        self.database_url = database_url or f"sqlite:///{self.scratch.name}/consents.sqlite3"
        self.args = ["--config", str(config), "--port", str(self.port), *(() if watch else ("--no-watch",)), *args]
        self.env = {**os.environ, "TAG_GATEWAY_SECRET": os.urandom(24).hex(), "PYTHONUNBUFFERED": "1",
                    "DATABASE_URL": self.database_url, **(env or {})}
        self.output = Path(self.scratch.name) / "output.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "ServedGateway":
        with self.output.open("wb") as sink:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", *self.args], cwd=self.workdir,
                                         env=self.env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.request("GET", "/healthz", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gateway serve not healthy in {timeout:g} s:\n{self.log()}")

    __enter__ = start

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.scratch.cleanup()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL to every process of the server at once, as a crash or the OOM killer would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:  # workers are reaped by init a moment later
            time.sleep(0.05)

    def pids(self) -> list[int]:
        """Every live process of the server's group (the master and its workers)."""
        assert self.proc is not None
        found = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in found]

    def log(self) -> str:
        return self.output.read_text("utf-8", "replace")

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None,
                timeout: float = 10) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]


@dataclass
class RawAnswer:
    status: int
    headers: list[tuple[str, str]]  # in the order sent, names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


def read_answers(sock: socket.socket, methods: list[str]) -> tuple[list[RawAnswer], bytes]:
    """Read one answer per request sent on `sock` (pipelined: in order), framed by Content-Length;
    returns them and whatever followed the last one (b"" when nothing did)."""
    buffer, answers = b"", []
    for method in methods:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed after {len(answers)} answers: {buffer[:200]!r}")
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = [(k.lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
        length = 0 if method == "HEAD" or status in (204, 304) else \
            int(next(v for k, v in headers if k == "content-length"))
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed in the middle of a body")
            buffer += chunk
        answers.append(RawAnswer(status, headers, buffer[:length]))
        buffer = buffer[length:]
    return answers, buffer


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes `sock` (EOF or reset) within `within` seconds, sending nothing more."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

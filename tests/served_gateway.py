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
    def __init__(self, *args: str, config: Path = REPO / "tag_configs", env: dict[str, str] | None = None) -> None:
        self.scratch = tempfile.TemporaryDirectory(prefix="tag-gateway-serve-")
        self.port = free_port()
        self.args = ["--config", str(config), "--port", str(self.port), "--no-watch", *args]
        self.env = {**os.environ, "TAG_GATEWAY_SECRET": os.urandom(24).hex(),
                    "DATABASE_URL": f"sqlite:///{self.scratch.name}/consents.sqlite3", **(env or {})}
        self.output = Path(self.scratch.name) / "output.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "ServedGateway":
        with self.output.open("wb") as sink:
            # A session of its own, so a test can signal the master and its workers together.
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", *self.args], cwd=self.scratch.name,
                                         env=self.env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"gateway serve exited:\n{self.log()}"
            try:
                if self.request("GET", "/healthz", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"gateway serve not healthy in 30 s:\n{self.log()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.scratch.cleanup()

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

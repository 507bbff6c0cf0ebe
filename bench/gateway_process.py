"""`gateway serve` as a subprocess on a free loopback port, and what its worker processes used.

The harness works before and after `--workers N` exists: it asks `gateway serve --help` and passes
`--workers 2` only when the flag is there. Each server gets its own consent log (DATABASE_URL) so the
records one load wrote can be counted.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from bench import cpu
from bench.errors import BenchError
from bench.net import free_port, request

ROOT = Path(__file__).resolve().parent.parent
DISCARD_HOOK = Path(__file__).resolve().parent / "discard_hook"
WORKERS = 2  # the measurements: 2 workers on 2 cores
MAX_RELAUNCHES = 3


@lru_cache(maxsize=1)
def workers_flag() -> int | None:
    """2 when `gateway serve` takes --workers, else None (one process serves)."""
    done = subprocess.run([sys.executable, "-m", "gateway", "serve", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    return WORKERS if "--workers" in done.stdout else None


def worker_count() -> int:
    return workers_flag() or 1


class Gateway:
    def __init__(self, config_dir: Path, database_url: str, *, store_dir: Path | None = None, discard: bool = False,
                 discard_outbox: bool = False, paused_delivery: bool = False, env: dict[str, str] | None = None):
        """`discard`: the consent log's write off; `discard_outbox`: the event outbox's write off;
        `paused_delivery`: the delivery worker not started (bench/paused_delivery.py);
        `env`: more variables (the forwarding credentials and stand-in URLs of the /collect servers)."""
        self.config_dir = config_dir
        self.database_url = database_url
        self.store_dir = store_dir
        self.discard = discard
        self.discard_outbox = discard_outbox
        self.paused_delivery = paused_delivery
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile(mode="w+b")
        self._proc: subprocess.Popen | None = None
        self._relaunches = 0

    def start(self, timeout: float = 60.0) -> "Gateway":
        return self.launch().wait(timeout)

    def launch(self) -> "Gateway":
        """Start the process without waiting (several servers build their containers at once)."""
        command = [sys.executable, "-m", "gateway", "serve", "--config", str(self.config_dir), "--host", "127.0.0.1",
                   "--port", str(self.port), "--no-watch"]
        if workers_flag():
            command += ["--workers", str(workers_flag())]
        if self.store_dir:
            command += ["--store", str(self.store_dir)]
        env = dict(os.environ, TAG_GATEWAY_SECRET=secrets.token_hex(32), DATABASE_URL=self.database_url,
                   PYTHONUNBUFFERED="1", **self.extra_env)
        env.pop("TAG_GATEWAY_CONSENT_LOG", None)
        env.pop("TAG_GATEWAY_OUTBOX", None)
        env.pop("TAG_GATEWAY_DELIVERY", None)
        if self.discard or self.discard_outbox or self.paused_delivery:
            # bench/discard_hook/sitecustomize.py runs in every process of this server (workers too,
            # however they are started) and swaps the consent log for one that writes nothing, or skips
            # the outbox's write, as the variables below say.
            if self.discard:
                env["TAG_GATEWAY_CONSENT_LOG"] = "discard"
            if self.discard_outbox:
                env["TAG_GATEWAY_OUTBOX"] = "discard"
            if self.paused_delivery:
                env["TAG_GATEWAY_DELIVERY"] = "paused"
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(DISCARD_HOOK), str(ROOT), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        return self

    def wait(self, timeout: float = 60.0) -> "Gateway":
        """Until GET /healthz answers 200; BenchError with the server's output when it exits or never does."""
        assert self._proc is not None
        command = " ".join(map(str, self._proc.args))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                if self._lost_its_port():
                    self._relaunch_on_another_port()
                    command = " ".join(map(str, self._proc.args))
                    continue
                raise BenchError(f"gateway exited with {self._proc.returncode}: {command}\n{self.output()}")
            try:
                if request("GET", self.url + "/healthz", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"gateway not healthy after {timeout:.0f} s: {command}\n{self.output()}")

    def _lost_its_port(self) -> bool:
        """The port `free_port` found was taken before the server bound it (another server or an outgoing
        connection of this busy harness got it first): `gateway serve` says so and exits 1."""
        return (self._relaunches < MAX_RELAUNCHES and self._proc.returncode == 1
                and f"cannot listen on 127.0.0.1:{self.port}" in self.output())

    def _relaunch_on_another_port(self) -> None:
        self._relaunches += 1
        print(f"bench: port {self.port} was taken before the gateway bound it; relaunching on another port",
              file=sys.stderr)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log.seek(0)
        self._log.truncate()
        self.launch()

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-3000:]

    def worker_pids(self) -> list[int]:
        """The processes that serve: the descendants of `gateway serve`, or the process itself when it has none."""
        assert self._proc is not None
        return sorted(cpu.descendants(self._proc.pid)) or [self._proc.pid]

    def cpu_meter(self) -> cpu.Meter:
        """CPU seconds used so far by `gateway serve` and its workers (bench/cpu.py)."""
        assert self._proc is not None
        return cpu.process_tree(lambda: self._proc.pid)

    def peak_rss_kib(self) -> dict[int, int]:
        """VmHWM (the peak resident set) of each worker process, in KiB."""
        peaks = {}
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1])
        return peaks

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, 9)  # the process group this harness started, and only it
                self._proc.wait(timeout=5)
        if self._proc:
            try:  # workers a killed parent left behind, in the group this harness started
                os.killpg(self._proc.pid, 15)
            except ProcessLookupError:
                pass

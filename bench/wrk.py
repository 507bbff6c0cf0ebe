"""Run wrk against one URL for a bounded time and read its summary: requests/s, p99 latency, failures.

Headers go through a Lua script rather than -H, so POST bodies and GETs share one path. wrk counts a
request once its response is parsed; "Non-2xx or 3xx responses" and socket errors are kept so a run
that mostly failed is never reported as fast.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.errors import BenchError

THREADS = 2
CONNECTIONS = 64  # the load: wrk -t2 -c64 on the same box

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p99_ms: float
    requests: int
    failed: int          # non-2xx/3xx answers
    socket_errors: int   # connect, read, write and timeout errors
    accepted: int | None = None  # 202 answers, counted by a script that counts them (bench/unique_events.py)
    # CPU time per completed request of each metered group of processes (bench/cpu.py), in microseconds
    cpu_us_per_request: dict[str, float] | None = None

    def as_json(self) -> dict:
        return asdict(self)


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_script(method: str, headers: dict[str, str], body: str | None) -> str:
    lines = [f"wrk.method = {lua_string(method)}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    return "\n".join(lines) + "\n"


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse(output: str) -> Load:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", output, re.M)
    total = re.search(r"^\s+(\d+) requests in ", output, re.M)
    if not (rate and p99 and total):
        raise BenchError(f"could not read wrk's output:\n{output[-800:]}")
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    counted = re.search(r"^tag-gateway-bench: accepted (\d+) other (\d+)$", output, re.M)  # bench/unique_events.py
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Load(requests_per_s=float(rate.group(1)), p99_ms=_milliseconds(*p99.groups()),
                requests=int(total.group(1)), failed=int(failed.group(1)) if failed else 0,
                socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
                accepted=int(counted.group(1)) if counted else None)


def run(wrk: str, url: str, seconds: int, *, method: str = "GET", headers: dict[str, str] | None = None,
        body: str | None = None, script: str | None = None) -> Load:
    """`script`: a whole wrk Lua script (bench/unique_events.py) instead of the one made of method/headers/body."""
    if int(seconds) != seconds or seconds < 1:
        raise BenchError(f"wrk takes whole seconds (1 or more), not {seconds}")
    with tempfile.TemporaryDirectory(prefix="tag-gateway-wrk-") as scratch:
        path = Path(scratch) / "request.lua"
        path.write_text(script if script is not None else lua_script(method, headers or {}, body))
        command = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--latency", "--timeout", "5s",
                   "-s", str(path), url]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish: {' '.join(command)}") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}")
    return parse(done.stdout)

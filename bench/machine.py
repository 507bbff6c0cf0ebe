"""What the figures were measured on: cores, CPU model, memory, OS and tool versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _os() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip().strip('"')
                return f"{name}, Linux {platform.release()}"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}"


def summary(versions: dict[str, str]) -> dict:
    """`versions`: the nginx, wrk and PostgreSQL versions the harness found (or why not)."""
    return {"cores": os.cpu_count(), "cpu_model": _cpu_model(), "memory_gib": _memory_gib(), "os": _os(),
            "python": platform.python_version(), **versions}

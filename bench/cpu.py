"""CPU time that groups of processes used, read from /proc: what one load cost each part of the machine.

Why: on this 2-core machine the gateway's workers, PostgreSQL and wrk share the cores, so a POST /consent ratio
on PostgreSQL also pays for the database server's own work, which a production setup usually runs on another
host. The POST rows say, per request, how much CPU the gateway's workers and PostgreSQL's processes used on
each side (the median of the rounds), so a reader can tell the two apart. /proc/<pid>/stat gives a process's
user and system time summed over all its threads; a process gone by the second reading counts as 0 then, so a
process that exits during a load is undercounted (the workers and PostgreSQL's backends live through it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

Meter = Callable[[], float]  # cumulative CPU seconds of a group of processes


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces


def descendants(root: int) -> list[int]:
    """Every process below `root` (children, their children, ...), `root` excluded."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system time of these processes (all their threads), in seconds; a process gone counts 0."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / TICKS_PER_SECOND


def process_tree(root: Callable[[], int]) -> Meter:
    """A meter of a process and everything below it, found again at each reading (backends come and go)."""
    def read() -> float:
        top = root()
        return cpu_seconds([top, *descendants(top)])

    return read


def postgres_meter(data_directory: Path) -> Meter:
    """PostgreSQL's postmaster (its pid is the first line of postmaster.pid) and all its processes."""
    return process_tree(lambda: int((data_directory / "postmaster.pid").read_text().split("\n", 1)[0]))


def post_meters(gateway, database: Meter | None) -> dict[str, Meter]:
    """What a POST load's CPU is read of: the gateway's processes (a bench Gateway), and PostgreSQL's when it runs on
    this machine."""
    return {"gateway": gateway.cpu_meter(), **({"PostgreSQL": database} if database else {})}

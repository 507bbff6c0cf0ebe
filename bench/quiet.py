"""Wait for a quiet machine before each load.

The harness keeps many servers running at once. Between two loads, the /collect servers' delivery
workers are still sending the last load's events to the stand-ins, PostgreSQL checkpoints, and servers
launched late are still importing and building their containers. A load that overlaps that work
measures the harness, not the server: on 2026-12-06 the GET loads, run between /collect loads, gave
0.50 x nginx with a p99 of 74 ms, and the same servers measured alone 0.7-0.9 x with a p99 of 6 ms.

So before each load the harness waits, up to a bound, until the whole machine's CPU use falls below a
threshold. CPU use is read from /proc/stat: user, nice, system, irq and softirq time over all cores.
Steal (time the hypervisor gave other tenants) and iowait are not counted: waiting cannot end them.
A load that starts before the machine was quiet is reported, never hidden (`Settled.quiet`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

BUSY_BELOW = 0.10     # a fraction of all cores' time
WINDOW_S = 0.5        # each sample
MAX_WAIT_S = 30.0

_BUSY_FIELDS = (0, 1, 2, 5, 6)  # user nice system [idle iowait] irq softirq


@dataclass(frozen=True)
class Settled:
    waited_s: float
    busy: float    # the last window's busy fraction
    quiet: bool    # False: MAX_WAIT_S ran out first


def cpu_times(stat: str | None = None) -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat's first line; steal and guests left out of both."""
    line = (stat if stat is not None else Path("/proc/stat").read_text()).splitlines()[0]
    fields = [int(value) for value in line.split()[1:]]
    busy = sum(fields[i] for i in _BUSY_FIELDS if i < len(fields))
    total = busy + fields[3] + (fields[4] if len(fields) > 4 else 0)  # + idle + iowait
    return busy, total


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def settle(busy_below: float = BUSY_BELOW, max_wait_s: float = MAX_WAIT_S, window_s: float = WINDOW_S,
           read=cpu_times, sleep=time.sleep, clock=time.monotonic) -> Settled:
    """Sample the machine's CPU use every `window_s` until one window is below `busy_below`, or the
    time runs out. Without /proc/stat (not Linux) there is nothing to wait for: quiet at once."""
    start = clock()
    try:
        before = read()
    except (OSError, ValueError, IndexError):
        return Settled(0.0, 0.0, True)
    while True:
        sleep(window_s)
        after = read()
        busy = busy_fraction(before, after)
        waited = clock() - start
        if busy < busy_below:
            return Settled(waited, busy, True)
        if waited >= max_wait_s:
            return Settled(waited, busy, False)
        before = after

"""Interleaved wrk loads: each comparison is a subject and its baseline, measured in the same run.

Per round, each comparison runs both sides back to back; the order flips every round (subject first in
round 1, baseline first in round 2, ...) so a slow patch of the shared machine falls on both. The
figure is the median of the rounds' ratios (each taken between two loads run back to back, so under the
same conditions); p99 is the median of the rounds' p99.
A side can check its own load (`after`): the consent servers count the records that load left.
Before each load, `before_load` (bench/quiet.py's `settle`) waits for the work the last load left
behind to end; each comparison keeps what it found, and a load begun on a busy machine is reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bench import wrk
from bench.cpu import Meter
from bench.errors import BenchError
from bench.quiet import Settled


@dataclass
class Side:
    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    before: Callable[[], object] | None = None      # runs before each load; its value goes to `after`
    after: Callable[[wrk.Load, object], None] | None = None  # raises BenchError when the load was not valid
    # A whole wrk script made from `before`'s value (bench/unique_events.py: a new event id per request)
    # instead of method/headers/body.
    script: Callable[[object], str] | None = None
    # Groups of processes whose CPU time each load reads (bench/cpu.py): {"gateway": ..., "PostgreSQL": ...}
    meters: dict[str, Meter] = field(default_factory=dict)

    def run(self, wrk_path: str, seconds: int) -> tuple[wrk.Load, object]:
        state = self.before() if self.before else None
        script = self.script(state) if self.script else None
        return wrk.run(wrk_path, self.url, seconds, method=self.method, headers=self.headers, body=self.body,
                       script=script), state

    def load(self, wrk_path: str, seconds: int) -> wrk.Load:
        readings = {name: meter() for name, meter in self.meters.items()}
        result, state = self.run(wrk_path, seconds)
        if readings and result.requests:
            result = replace(result, cpu_us_per_request={
                name: (meter() - readings[name]) / result.requests * 1e6 for name, meter in self.meters.items()})
        if result.failed:
            raise BenchError(f"{self.name}: {result.failed} of {result.requests} answers were not 2xx/3xx")
        if result.requests == 0:
            raise BenchError(f"{self.name}: no request completed")
        if self.after:
            self.after(result, state)
        return result


@dataclass
class Comparison:
    key: str
    subject: Side
    baseline: Side
    runs: dict[str, list[wrk.Load]] = field(default_factory=lambda: {"subject": [], "baseline": []})
    error: str | None = None  # why this comparison has no figure
    settled: list[Settled] = field(default_factory=list)  # one per load, when the harness waited

    def busy_starts(self) -> list[Settled]:
        """The loads that began before the machine was quiet."""
        return [s for s in self.settled if not s.quiet]

    def summary(self) -> dict:
        subject, baseline = self.runs["subject"], self.runs["baseline"]
        ratios = [s.requests_per_s / b.requests_per_s for s, b in zip(subject, baseline)]
        return {
            "subject": self.subject.name, "baseline": self.baseline.name,
            "ratio": statistics.median(ratios), "round_ratios": ratios,
            "subject_requests_per_s": statistics.median(r.requests_per_s for r in subject),
            "baseline_requests_per_s": statistics.median(r.requests_per_s for r in baseline),
            "subject_p99_ms": statistics.median(r.p99_ms for r in subject),
            "baseline_p99_ms": statistics.median(r.p99_ms for r in baseline),
            "socket_errors": sum(r.socket_errors for r in subject + baseline),
            "settled": [{"waited_s": round(s.waited_s, 2), "busy": round(s.busy, 3), "quiet": s.quiet}
                        for s in self.settled],
            "rounds": {"subject": [r.as_json() for r in subject], "baseline": [r.as_json() for r in baseline]},
            **{f"{role}_cpu_us": _median_cpu(loads) for role, loads in (("subject", subject), ("baseline", baseline))
               if any(load.cpu_us_per_request for load in loads)},
        }


def _median_cpu(loads: list[wrk.Load]) -> dict[str, float]:
    """Each meter's median over the rounds of its CPU time per request."""
    names = dict.fromkeys(name for load in loads for name in (load.cpu_us_per_request or {}))
    return {name: statistics.median(load.cpu_us_per_request[name] for load in loads
                                    if load.cpu_us_per_request and name in load.cpu_us_per_request)
            for name in names}


def interleave(comparisons: list[Comparison], wrk_path: str, rounds: int, seconds: int, warmup: int,
               progress: Callable[[str], None], before_load: Callable[[], Settled] | None = None) -> None:
    """Fill each comparison's runs. A comparison whose load fails keeps its error and is left out after."""
    def measured(comparison: Comparison, role: str, side: Side) -> None:
        if before_load:
            comparison.settled.append(before_load())
        comparison.runs[role].append(side.load(wrk_path, seconds))

    def attempt(comparison: Comparison, action: Callable[[], None]) -> None:
        if comparison.error is None:
            try:
                action()
            except BenchError as error:
                comparison.error = str(error)

    for comparison in comparisons if warmup else ():  # once per side before measuring: pools, caches
        for side in (comparison.subject, comparison.baseline):
            attempt(comparison, lambda side=side: side.run(wrk_path, warmup))
    for number in range(rounds):
        for comparison in comparisons:
            sides = [("subject", comparison.subject), ("baseline", comparison.baseline)]
            for role, side in sides if number % 2 == 0 else reversed(sides):
                progress(f"round {number + 1}/{rounds}: {side.name}")
                attempt(comparison, lambda role=role, side=side: measured(comparison, role, side))

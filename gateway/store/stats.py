"""`gateway consents stats`: decisions and opt-in rate per category per day (UTC), a text table per site.

Each site has its own categories and visitors, so each gets its own table (sites by name;
records written before the log named sites last, as "(not recorded)"), and a line adds them up
when there are several.

The opt-in rate of a category on a day is the share of that day's decisions that
offered the category and left it allowed (`categories`), so in an opt-out region a
visitor who kept the default counts as opted in, and one who followed "Do Not Sell or
Share" as opted out. `necessary` is always on and is not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from gateway.store.decision import NO_SITE, Record

ALWAYS_ON = "necessary"


@dataclass
class Day:
    day: date
    decisions: int = 0
    offered: dict[str, int] = field(default_factory=dict)
    allowed: dict[str, int] = field(default_factory=dict)

    def rate(self, category: str) -> float | None:
        offered = self.offered.get(category, 0)
        return None if offered == 0 else self.allowed.get(category, 0) / offered


def window_start(days: int, now: datetime | None = None) -> datetime:
    """Midnight UTC at the start of the window of `days` days that ends today."""
    today = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    return datetime.combine(today - timedelta(days=days - 1), time(0), tzinfo=timezone.utc)


class _Tally:
    def __init__(self) -> None:
        self.days: dict[date, Day] = {}
        self.categories: dict[str, None] = {}

    def add(self, record: Record) -> None:
        day = self.days.setdefault(record.decided_at.date(), Day(record.decided_at.date()))
        day.decisions += 1
        for category in record.offered:
            if category == ALWAYS_ON:
                continue
            self.categories.setdefault(category)
            day.offered[category] = day.offered.get(category, 0) + 1
            if category in record.categories:
                day.allowed[category] = day.allowed.get(category, 0) + 1

    def result(self) -> tuple[list[Day], list[str]]:
        return sorted(self.days.values(), key=lambda d: d.day), list(self.categories)


def daily(records: Iterable[Record]) -> tuple[list[Day], list[str]]:
    """Per-day counts, oldest day first, and the categories seen (in the order they were offered)."""
    tally = _Tally()
    for record in records:
        tally.add(record)
    return tally.result()


def per_site(records: Iterable[Record]) -> dict[str | None, tuple[list[Day], list[str]]]:
    """`daily` for each site, sites by name, None (records from before the log named sites) last."""
    tallies: dict[str | None, _Tally] = {}
    for record in records:
        tallies.setdefault(record.site, _Tally()).add(record)
    return {site: tallies[site].result() for site in sorted(tallies, key=lambda s: (s is None, s or ""))}


def report(sites: dict[str | None, tuple[list[Day], list[str]]], window: int, site: str | None = None) -> str:
    """The title, then one table per site (`per_site`); `site`: the one site asked for (--site)."""
    title = f"Consent decisions in the last {window} day{'s' if window != 1 else ''} (UTC); opt-in rate per category"
    if site is not None:
        title += f", site {site}"
    if not sites:
        return f"{title}\nno decisions"
    blocks = [title]
    for name, (days, categories) in sites.items():
        blocks += ["", f"site {name or NO_SITE}", _grid(days, categories)]
    if len(sites) > 1:
        total = sum(d.decisions for days, _ in sites.values() for d in days)
        blocks += ["", f"all {len(sites)} sites: {total} decisions"]
    return "\n".join(blocks)


def _grid(days: list[Day], categories: list[str]) -> str:
    total = Day(date.min)
    for day in days:
        total.decisions += day.decisions
        for category in categories:
            total.offered[category] = total.offered.get(category, 0) + day.offered.get(category, 0)
            total.allowed[category] = total.allowed.get(category, 0) + day.allowed.get(category, 0)
    header = ["day", "decisions", *categories]
    lines = [[d.day.isoformat(), str(d.decisions), *(_percent(d.rate(c)) for c in categories)] for d in days]
    lines.append(["total", str(total.decisions), *(_percent(total.rate(c)) for c in categories)])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def render(row: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *map(render, lines[:-1]), rule, render(lines[-1])])


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"

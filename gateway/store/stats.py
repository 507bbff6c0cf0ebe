"""`gateway consents stats`: decisions and opt-in rate per category per day (UTC), as a text table.

The opt-in rate of a category on a day is the share of that day's decisions that
offered the category and left it allowed (`categories`), so in an opt-out region a
visitor who kept the default counts as opted in, and one who followed "Do Not Sell or
Share" as opted out. `necessary` is always on and is not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from gateway.store.decision import Record

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


def daily(records: Iterable[Record]) -> tuple[list[Day], list[str]]:
    """Per-day counts, oldest day first, and the categories seen (in the order they were offered)."""
    days: dict[date, Day] = {}
    categories: dict[str, None] = {}
    for record in records:
        day = days.setdefault(record.decided_at.date(), Day(record.decided_at.date()))
        day.decisions += 1
        for category in record.offered:
            if category == ALWAYS_ON:
                continue
            categories.setdefault(category)
            day.offered[category] = day.offered.get(category, 0) + 1
            if category in record.categories:
                day.allowed[category] = day.allowed.get(category, 0) + 1
    return sorted(days.values(), key=lambda d: d.day), list(categories)


def table(days: list[Day], categories: list[str], window: int) -> str:
    title = f"Consent decisions in the last {window} day{'s' if window != 1 else ''} (UTC); opt-in rate per category"
    if not days:
        return f"{title}\nno decisions"
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
    return "\n".join([title, render(header), rule, *map(render, lines[:-1]), rule, render(lines[-1])])


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"

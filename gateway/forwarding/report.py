"""`gateway events stats` and the events part of `gateway consents show`: what the outbox holds, readable.

Counts are per UTC day the event was accepted (or dropped) and per vendor: accepted, dropped by reason,
delivered, queued (not tried yet), retrying (tried, due again), dead (kept with the vendor's error).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from gateway.forwarding.outbox import DEAD, DELIVERED, PENDING, SENDING

COLUMNS = ("accepted", "delivered", "queued", "retrying", "dead")


def tally(counts: list[Any], drops: list[Any]) -> list[dict[str, Any]]:
    """One entry per (day, vendor), oldest day first, from Outbox.counts and Outbox.drops."""
    table: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {**{c: 0 for c in COLUMNS}, "dropped": {}})
    for count in counts:
        entry = table[(count.day, count.vendor)]
        entry["accepted"] += count.n
        if count.state == DELIVERED:
            entry["delivered"] += count.n
        elif count.state == DEAD:
            entry["dead"] += count.n
        elif count.state in (PENDING, SENDING):
            entry["retrying" if count.tried else "queued"] += count.n
    for drop in drops:
        dropped = table[(drop.day, drop.vendor)]["dropped"]
        dropped[drop.reason] = dropped.get(drop.reason, 0) + drop.count
    return [{"day": day, "vendor": vendor, **entry} for (day, vendor), entry in sorted(table.items())]


def render(entries: list[dict[str, Any]], days: int, as_json: bool = False, site: str | None = None) -> str:
    if as_json:
        return json.dumps({"days": days, **({"site": site} if site is not None else {}), "rows": entries}, indent=2)
    of = f" of site {site}" if site is not None else ""
    if not entries:
        return f"no server-side events{of} in the last {days} day{'s' if days != 1 else ''}"
    head = f"{'day':<10}  {'vendor':<14}" + "".join(f"  {c:>9}" for c in COLUMNS) + "  dropped"
    lines = [f"server-side events{of}, last {days} day{'s' if days != 1 else ''} (UTC)", head]
    for e in entries:
        dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(e["dropped"].items())) or "-"
        lines.append(f"{e['day']:<10}  {e['vendor']:<14}" + "".join(f"  {e[c]:>9}" for c in COLUMNS) + f"  {dropped}")
    return "\n".join(lines)


def render_for_consent(rows: list[Any]) -> str:
    """The events accepted under one consent id, for `gateway consents show`."""
    count = len(rows)
    lines = ["", f"server-side events under this consent: {count}"]
    for row in rows:
        when = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
        delivered = f", delivered {row.delivered_at:%Y-%m-%d %H:%M:%S}" if row.delivered_at else ""
        error = f"; last error: {row.last_error[:200]}" if row.last_error and row.state != DELIVERED else ""
        lines.append(f"  {when}  {row.vendor:<12}  tag {row.tag_id}  event {row.event_id}  {row.state} "
                     f"(attempts {row.attempts}{delivered}){error}")
    return "\n".join(lines)


def since_day(start: datetime) -> str:
    return start.strftime("%Y-%m-%d")

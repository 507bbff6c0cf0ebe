"""`gateway events stats|retry-dead`, and the events in `gateway consents show|erase|purge`, run as an operator
runs them (gateway.cli.main with DATABASE_URL), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from gateway.cli import main
from gateway.forwarding.event import ServerEvent
from gateway.forwarding.outbox import DEAD, DELIVERED, PENDING, Accept, Drop, Outbox
from gateway.store import ConsentLog
from gateway.store.schema import event_outbox


def event(n, vendor="meta_pixel", consent_id="alice") -> ServerEvent:
    return ServerEvent(event_id=f"e-{n}", site="default", tag_id=f"{vendor}-purchase", vendor=vendor,
                       account_id="1", event_name="Purchase", event_time=int(time.time()), consent_id=consent_id)


@pytest.fixture
def filled(database_url, monkeypatch, make_decision) -> str:
    """alice's consent with 4 meta events (delivered, dead, retrying, queued) and 1 tiktok event; 3 drops."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    with ConsentLog.open(database_url) as log:
        log.record(make_decision(consent_id="alice"))
        log.record(make_decision(consent_id="bob"))
        box = Outbox(log.engine)
        for n in range(4):
            box.put_sync(Accept(event(n), "default"))
        box.put_sync(Accept(event(9, vendor="tiktok_pixel", consent_id="bob"), "default"))
        for reason in ("consent", "consent", "no_credential"):
            box.put_sync(Drop("default", "meta_pixel", reason))
        claimed = {c.event.event_id: c for c in box.claim(3, 60)}
        box.settle(claimed["e-0"], DELIVERED)
        box.settle(claimed["e-1"], DEAD, error="400 Invalid parameter: pixel")
        box.settle(claimed["e-2"], PENDING, error="503", next_attempt_at=datetime.now(timezone.utc) + timedelta(hours=1))
        box.close()
    return database_url


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_stats_per_vendor_and_day(filled, capsys) -> None:
    code, out, _ = run(capsys, "events", "stats", "--json")
    assert code == 0
    rows = {r["vendor"]: r for r in json.loads(out)["rows"]}
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert rows["meta_pixel"] == {"day": today, "vendor": "meta_pixel", "accepted": 4, "delivered": 1, "queued": 1,
                                  "retrying": 1, "dead": 1, "dropped": {"consent": 2, "no_credential": 1}}
    assert rows["tiktok_pixel"]["accepted"] == 1 and rows["tiktok_pixel"]["queued"] == 1
    code, out, _ = run(capsys, "events", "stats", "--days", "1")
    assert code == 0 and "meta_pixel" in out and "consent 2, no_credential 1" in out
    line = next(line for line in out.splitlines() if "meta_pixel" in line).split()
    assert line[2:7] == ["4", "1", "1", "1", "1"]


def test_stats_of_one_site(filled, capsys) -> None:
    with ConsentLog.open(filled) as log:
        box = Outbox(log.engine)
        for n in range(3):
            box.put_sync(Accept(event(100 + n, vendor="ga4"), "outlet"))
        box.put_sync(Drop("outlet", "ga4", "consent"))
        box.close()
    code, out, _ = run(capsys, "events", "stats", "--site", "outlet", "--json")
    found = json.loads(out)
    assert code == 0 and found["site"] == "outlet"
    assert [(r["vendor"], r["accepted"], r["queued"], r["dropped"]) for r in found["rows"]] == [
        ("ga4", 3, 3, {"consent": 1})]
    everything = {r["vendor"]: r["accepted"] for r in json.loads(run(capsys, "events", "stats", "--json")[1])["rows"]}
    assert everything == {"ga4": 3, "meta_pixel": 4, "tiktok_pixel": 1}
    code, out, _ = run(capsys, "events", "stats", "--site", "nowhere")
    assert code == 0 and out.strip() == "no server-side events of site nowhere in the last 7 days"


def test_retry_dead_makes_dead_events_due_again(filled, capsys) -> None:
    assert run(capsys, "events", "retry-dead", "--vendor", "tiktok_pixel")[1].startswith("0 dead events of tiktok_pixel")
    code, out, _ = run(capsys, "events", "retry-dead")
    assert code == 0 and out.startswith("1 dead event will be delivered again")
    with ConsentLog.open(filled) as log, log.engine.connect() as connection:
        row = connection.execute(select(event_outbox).where(event_outbox.c.event_id == "e-1")).one()
    assert (row.state, row.attempts) == (PENDING, 0)
    assert row.next_attempt_at <= datetime.now(timezone.utc)


def test_consents_show_lists_the_events_and_erase_deletes_them(filled, capsys) -> None:
    code, out, _ = run(capsys, "consents", "show", "alice")
    assert code == 0 and "server-side events under this consent: 4" in out
    assert "event e-1  dead (attempts 1); last error: 400 Invalid parameter: pixel" in out
    assert "event e-9" not in out  # bob's
    code, out, _ = run(capsys, "consents", "erase", "alice")
    assert code == 0 and "deleted 4 server-side events of alice" in out
    assert "server-side events" not in run(capsys, "consents", "show", "alice")[1]
    assert "server-side events under this consent: 1" in run(capsys, "consents", "show", "bob")[1]


def test_purge_deletes_events_accepted_before_the_cutoff(filled, capsys) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=40)
    with ConsentLog.open(filled) as log, log.engine.begin() as connection:
        connection.execute(update(event_outbox).where(event_outbox.c.event_id.in_(["e-0", "e-1"])).values(created_at=old))
    code, out, _ = run(capsys, "consents", "purge", "--older-than", "30")
    assert code == 0 and "deleted 2 server-side events accepted before then" in out
    with ConsentLog.open(filled) as log, log.engine.connect() as connection:
        left = sorted(connection.execute(select(event_outbox.c.event_id)).scalars())
    assert left == ["e-2", "e-3", "e-9"]

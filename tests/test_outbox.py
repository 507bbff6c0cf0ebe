"""The outbox table on SQLite and PostgreSQL: one row per (site, vendor, event id), claims with leases,
a lost claim cannot settle, and concurrent claimers never get the same row."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway.forwarding.event import ServerEvent
from gateway.forwarding.outbox import DEAD, DELIVERED, PENDING, Accept, Drop, Outbox
from gateway.store import ConsentLog
from gateway.store.schema import event_drops, event_outbox


STARTED = int(time.time())  # one event time for the whole run: event(n) twice is the same event


def event(n, vendor="meta_pixel", consent_id="c1") -> ServerEvent:
    return ServerEvent(event_id=f"e-{n}", site="default", tag_id="meta-purchase", vendor=vendor,
                       account_id="1234567890", event_name="Purchase", event_time=STARTED,
                       params={"value": n}, consent_id=consent_id)


@pytest.fixture
def store(database_url):
    with ConsentLog.open(database_url) as log:
        box = Outbox(log.engine)
        yield box
        box.close()


def rows(box) -> list:
    with box._engine.connect() as connection:
        return connection.execute(select(event_outbox).order_by(event_outbox.c.id)).all()


def test_an_event_id_is_stored_once_per_site_and_vendor(store) -> None:
    assert store.put_sync(Accept(event(1), "default")) == "queued"
    assert store.put_sync(Accept(event(1), "default")) == "duplicate"
    assert store.put_sync(Accept(event(1, vendor="tiktok_pixel"), "default")) == "queued"
    assert store.put_sync(Accept(event(1), "other-site")) == "queued"
    assert [(r.site, r.vendor, r.event_id, r.state) for r in rows(store)] == [
        ("default", "meta_pixel", "e-1", PENDING), ("default", "tiktok_pixel", "e-1", PENDING),
        ("other-site", "meta_pixel", "e-1", PENDING)]
    assert rows(store)[0].payload == event(1).as_json()


def test_drops_are_counted_per_reason(store) -> None:
    for reason in ("consent", "consent", "no_credential"):
        assert store.put_sync(Drop("default", "meta_pixel", reason)) == "counted"
    with store._engine.connect() as connection:
        counted = {r.reason: r.count for r in connection.execute(select(event_drops))}
    assert counted == {"consent": 2, "no_credential": 1}


def test_one_batch_with_duplicates_already_stored_and_within_itself_and_drops(store) -> None:
    """What a crowd of requests committed together gets: each its own answer, in order."""
    assert store.put_sync(Accept(event(1), "default")) == "queued"
    batch = [Accept(event(1), "default"), Accept(event(2), "default"), Drop("default", "meta_pixel", "consent"),
             Accept(event(2), "default"), Accept(event(3), "default"), Drop("default", "meta_pixel", "consent"),
             Drop("default", "ga4", "no_credential")]
    assert store._commit(batch) == ["duplicate", "queued", "counted", "duplicate", "queued", "counted", "counted"]
    assert [r.event_id for r in rows(store)] == ["e-1", "e-2", "e-3"]
    assert rows(store)[1].payload == event(2).as_json()
    with store._engine.connect() as connection:
        counted = {(r.vendor, r.reason): r.count for r in connection.execute(select(event_drops))}
    assert counted == {("meta_pixel", "consent"): 2, ("ga4", "no_credential"): 1}
    assert store._commit([Drop("default", "meta_pixel", "consent")]) == ["counted"]
    with store._engine.connect() as connection:
        assert connection.execute(select(event_drops.c.count).where(event_drops.c.reason == "consent")).scalar() == 3


def test_a_claim_leases_rows_and_an_expired_lease_makes_them_due_again(store) -> None:
    for n in range(3):
        store.put_sync(Accept(event(n), "default"))
    first = store.claim(10, lease_seconds=60)
    assert [c.event.event_id for c in first] == ["e-0", "e-1", "e-2"] and {c.attempts for c in first} == {1}
    assert store.claim(10, lease_seconds=60) == []  # all leased
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    again = store.claim(10, lease_seconds=60, now=later)  # the claimer died: the lease ran out
    assert len(again) == 3 and {c.attempts for c in again} == {2}
    assert store.settle(first[0], DELIVERED) is False  # the lost claim cannot settle the row
    assert store.settle(again[0], DELIVERED) is True
    assert store.settle(again[1], DEAD, error="400 bad pixel") is True
    states = {r.event_id: (r.state, r.last_error) for r in rows(store)}
    assert states["e-0"][0] == DELIVERED and states["e-1"] == (DEAD, "400 bad pixel") and states["e-2"][0] == "sending"


def test_a_retry_waits_until_its_time(store) -> None:
    store.put_sync(Accept(event(1), "default"))
    [claimed] = store.claim(10, 60)
    store.settle(claimed, PENDING, error="503", next_attempt_at=datetime.now(timezone.utc) + timedelta(seconds=30))
    assert store.claim(10, 60) == []
    assert len(store.claim(10, 60, now=datetime.now(timezone.utc) + timedelta(seconds=31))) == 1


def test_retry_dead_and_deleting_a_consents_events(store) -> None:
    for n, consent in ((1, "a"), (2, "a"), (3, "b")):
        store.put_sync(Accept(event(n, consent_id=consent), "default"))
    for claimed in store.claim(10, 60):
        store.settle(claimed, DEAD, error="boom")
    assert store.retry_dead(vendor="tiktok_pixel") == 0
    assert store.retry_dead() == 3
    assert {(r.state, r.attempts) for r in rows(store)} == {(PENDING, 0)}
    assert store.delete_consent("a") == 2
    assert [r.event_id for r in rows(store)] == ["e-3"]


def test_concurrent_claimers_never_share_a_row(store) -> None:
    for n in range(120):
        store.put_sync(Accept(event(n), "default"))
    got: list[list[int]] = [[], [], []]

    def claimer(slot: int) -> None:
        while True:
            claimed = store.claim(7, 60)
            if not claimed:
                return
            got[slot] += [c.id for c in claimed]

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = got[0] + got[1] + got[2]
    assert len(every) == 120 and len(set(every)) == 120


def test_delivery_bookkeeping_skips_the_flush_and_leaves_every_connection_flushing(tmp_path) -> None:
    """SQLite: claims and settles commit with synchronous=NORMAL (nothing they record is acknowledged to
    anyone); the connection goes back to the pool with FULL, which every acceptance and consent needs."""
    with ConsentLog.open(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        box = Outbox(log.engine)
        box.put_sync(Accept(event(1), "default"))
        seen = []
        with box._delivery_write("look") as connection:
            seen.append(connection.exec_driver_sql("PRAGMA synchronous").scalar())
            raw = connection.connection.dbapi_connection
        assert seen == [1]  # NORMAL inside
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again on the same connection
        [claimed] = box.claim(10, 30)
        assert box.settle(claimed, "delivered")
        with log.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        box.close()


def test_a_batch_keeps_every_payload_exactly_whatever_it_holds(store) -> None:
    """PostgreSQL takes a batch as one JSON document (json_to_recordset): quotes, backslashes, non-ASCII
    text, nulls and numbers come back as they went in, each event on its own row."""
    from dataclasses import replace

    odd = [replace(event(n), params={"name": 'say "hi" \\ back', "emoji": "café ☕ \u2028", "none": None,
                                     "value": 10 ** 15 + n / 7, "items": [{"id": f"SKU-{n}", "q": n}]},
                   page_url=f"https://shop.example/p?q='{n}'&x=\"y\"") for n in range(5)]
    assert store._commit([Accept(e, "default") for e in odd] + [Accept(odd[0], "default")]) == \
        ["queued"] * 5 + ["duplicate"]
    stored = {r.event_id: r for r in rows(store)}
    assert {e.event_id: e.as_json() for e in odd} == {k: r.payload for k, r in stored.items()}
    assert all(r.state == PENDING and r.created_at.tzinfo is not None for r in stored.values())


def test_a_batch_from_the_event_loop_gets_the_same_answers_and_rows(store) -> None:
    """POST /collect's own path: a crowd of requests on the event loop is one batch (on SQLite the loop writes
    it and a thread commits it, gateway/store/loop_commit.py; on PostgreSQL the loop writes and commits it,
    pg_loop_commit.py). Each caller gets its own answer, in order; duplicates are not stored twice, drops are
    counted, payloads come back exactly."""
    from dataclasses import replace

    assert store.put_sync(Accept(event(1), "default")) == "queued"
    odd = replace(event(2), params={"name": 'say "hi" \\ back', "emoji": "café ☕ \u2028", "none": None,
                                    "value": 10 ** 15 + 2 / 7})
    crowd = [Accept(event(1), "default"), Accept(odd, "default"), Drop("default", "meta_pixel", "consent"),
             Accept(odd, "default"), Accept(event(3), "default"), Drop("default", "meta_pixel", "consent"),
             Drop("default", "ga4", "no_credential"), Accept(event(3, vendor="tiktok_pixel"), "default")]

    async def requests():
        return await asyncio.gather(*(store.put(item) for item in crowd))

    assert asyncio.run(requests()) == ["duplicate", "queued", "counted", "duplicate", "queued", "counted",
                                       "counted", "queued"]
    stored = rows(store)
    assert [(r.vendor, r.event_id) for r in stored] == [("meta_pixel", "e-1"), ("meta_pixel", "e-2"),
                                                       ("meta_pixel", "e-3"), ("tiktok_pixel", "e-3")]
    assert stored[1].payload == odd.as_json()
    assert all(r.state == PENDING and r.created_at.tzinfo is not None for r in stored)
    with store._engine.connect() as connection:
        counted = {(r.vendor, r.reason): r.count for r in connection.execute(select(event_drops))}
    assert counted == {("meta_pixel", "consent"): 2, ("ga4", "no_credential"): 1}


def test_a_loop_connection_the_server_closed_between_batches_costs_no_event(postgres_url) -> None:
    """POST /collect on PostgreSQL sends a batch in one round trip that commits, so it cannot be tried again once
    sent: a connection the server closed since the last batch (a restart) is found and replaced before."""
    import psycopg

    with ConsentLog.open(postgres_url) as log:
        box = Outbox(log.engine)
        try:
            async def scenario():
                assert await box.put(Accept(event(1), "default")) == "queued"
                pid = box._loop_committer._connection.info.backend_pid
                with psycopg.connect(postgres_url, autocommit=True) as admin:
                    assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]
                answers = await asyncio.gather(box.put(Accept(event(2), "default")),
                                               box.put(Drop("default", "meta_pixel", "consent")))
                return answers, pid, box._loop_committer._connection.info.backend_pid

            answers, old_pid, new_pid = asyncio.run(scenario())
            assert answers == ["queued", "counted"] and new_pid != old_pid
            assert [r.event_id for r in rows(box)] == ["e-1", "e-2"]
        finally:
            box.close()

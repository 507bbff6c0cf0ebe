"""The outbox: accepted server-side events, durable before POST /collect answers, until delivered.

Writes from requests go through group commit, as consent decisions do (gateway/store/group_commit.py; requests
on the event loop through loop_commit.py on SQLite and pg_loop_commit.py on PostgreSQL): a request awaits its
batch's commit, so an acknowledged event is on disk, and a crowd of requests shares one flush. An event whose (site, vendor,
event_id) is already stored is not inserted again (INSERT ... ON CONFLICT DO NOTHING), and its caller
learns it was a duplicate. Dropped events are only counted (`event_drops`), in the same batches.

Delivery claims due rows in a transaction of their own: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL,
so instances sharing one database never claim the same row; on SQLite the transaction starts with
BEGIN IMMEDIATE (gateway/store/database.py), which makes claims one at a time. A claimed row is `sending`
with a lease; whoever claimed it settles it with its claim token, and a row whose lease ran out (the
process died mid-delivery) is due again. A second delivery after such a crash is harmless for Meta and
TikTok, which de-duplicate by event id; that is the price of never losing one.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from gateway.forwarding.event import ServerEvent
from gateway.store import database
from gateway.store.append import Prepared, PreparedInsert
from gateway.store.errors import LogUnavailable, one_line
from gateway.store.group_commit import GroupCommitter
from gateway.store.loop_commit import LoopCommitter
from gateway.store.pg_append import json_document
from gateway.store.pg_loop_commit import PgLoopCommitter
from gateway.store.schema import UTCDateTime, event_drops, event_outbox

PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"
MAX_ERROR = 2000  # characters of a vendor's error kept on the row


@dataclass(frozen=True)
class Accept:
    event: ServerEvent
    site: str  # the site's name in the log (gateway.sites.log_name)


@dataclass(frozen=True)
class Drop:
    site: str
    vendor: str
    reason: str


@dataclass(frozen=True)
class Claimed:
    id: int
    event: ServerEvent
    site: str
    attempts: int  # including this one
    claim: str
    lease_until: datetime


@dataclass(frozen=True)
class Settlement:
    """What became of one claimed row: DELIVERED, DEAD (with the vendor's error) or PENDING again at a time."""
    claimed: Claimed
    state: str
    error: str | None = None
    next_attempt_at: datetime | None = None


# PostgreSQL: the whole batch as one JSON document, so the statement is the same whatever the batch's size.
# The multi-row VALUES form had 10 placeholders per event, and psycopg parses a statement that long anew
# each time instead of caching it (~90 us of CPU per event, three times PostgreSQL's own work); one text
# array per column was slower still, psycopg escaping each JSON payload in Python (both measured).
_PG_COLUMNS = ("site", "vendor", "tag_id", "event_id", "consent_id", "payload")
_PG_INSERT = text(
    "INSERT INTO event_outbox (site, vendor, tag_id, event_id, consent_id, payload, state, attempts, "
    "next_attempt_at, created_at) "
    "SELECT site, vendor, tag_id, event_id, consent_id, payload, :state, 0, :now, :now "
    "FROM json_to_recordset(CAST(:batch AS json)) "
    "AS batch(site text, vendor text, tag_id text, event_id text, consent_id text, payload json) "
    "ON CONFLICT (site, vendor, event_id) DO NOTHING RETURNING site, vendor, event_id"
).bindparams(bindparam("now", type_=UTCDateTime()))


# The same two writes from the event loop (PgLoopCommitter: a psycopg ClientCursor binds the values into the query
# string): the events, and the drops' counts as one JSON document too.
_PG_COUNT_DROPS = (
    "INSERT INTO event_drops (site, vendor, day, reason, count) SELECT site, vendor, day, reason, count "
    "FROM json_to_recordset(%(drops)s::json) AS drops(site text, vendor text, day text, reason text, count bigint) "
    "ON CONFLICT (site, vendor, day, reason) DO UPDATE SET count = event_drops.count + excluded.count")


def _insert(dialect: str, table):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


_EVENT_COLUMNS = ("site", "vendor", "tag_id", "event_id", "consent_id", "payload", "state", "attempts",
                  "next_attempt_at", "created_at")
_DROP_COLUMNS = ("site", "vendor", "day", "reason", "count")


class _BatchPlan:
    """What one batch writes: its events' rows (each (site, vendor, event_id) once) and its drops' counts; then
    each item's answer, from the keys the INSERT says it stored."""

    def __init__(self, batch: list[Accept | Drop], now: datetime):
        self.now = now
        self._answers: list[str] = ["counted"] * len(batch)
        self.rows: list[dict[str, Any]] = []
        self._first: dict[tuple[str, str, str], int] = {}  # (site, vendor, event_id) -> its first index in the batch
        self.drops: Counter[tuple[str, str, str]] = Counter()
        for index, item in enumerate(batch):
            if isinstance(item, Drop):
                self.drops[(item.site, item.vendor, item.reason)] += 1
                continue
            event = item.event
            key = (item.site, event.vendor, event.event_id)
            if key in self._first:
                self._answers[index] = "duplicate"  # twice in one batch: the first one is the event
                continue
            self._first[key] = index
            self.rows.append({"site": item.site, "vendor": event.vendor, "tag_id": event.tag_id,
                              "event_id": event.event_id, "consent_id": event.consent_id, "payload": event.as_json(),
                              "state": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now})

    def drop_rows(self) -> list[dict[str, Any]]:
        day = self.now.strftime("%Y-%m-%d")
        return [{"site": site, "vendor": vendor, "day": day, "reason": reason, "count": n}
                for (site, vendor, reason), n in self.drops.items()]

    def results(self, inserted: set[tuple]) -> list[str]:
        for key, index in self._first.items():
            self._answers[index] = "queued" if key in inserted else "duplicate"
        return self._answers


class Outbox:
    def __init__(self, engine: Engine, busy_timeout: float = database.BUSY_TIMEOUT):
        self._engine = engine
        self._dialect = engine.dialect.name
        # An event id is accepted once per (site, vendor): RETURNING names the rows inserted, the rest existed.
        # (PostgreSQL inserts through _PG_INSERT instead; this is SQLite's.)
        self._insert_events = (_insert(self._dialect, event_outbox)
                               .on_conflict_do_nothing(index_elements=["site", "vendor", "event_id"])
                               .returning(event_outbox.c.site, event_outbox.c.vendor, event_outbox.c.event_id))
        upsert = _insert(self._dialect, event_drops)
        self._count_drops = upsert.on_conflict_do_update(index_elements=["site", "vendor", "day", "reason"],
                                                         set_={"count": event_drops.c.count + upsert.excluded.count})
        # SQLite: take turns with the other writers of the file (the consent log, other workers) as the consent
        # log does (database.WriterTurns), instead of SQLite's busy waits of up to 100 ms, which gave POST /collect
        # a p99 near a second under load. One per thread that writes: a lock file is held per open file.
        self._turns = database.WriterTurns(engine.url)
        self._delivery_turns = database.WriterTurns(engine.url)
        wait_timeout = 2 * busy_timeout + database.CONNECT_TIMEOUT
        self._committer = GroupCommitter(self._commit, what="queue the event", wait_timeout=wait_timeout)
        # POST /collect's path, as POST /consent's: on SQLite the event loop writes the batch and a thread only
        # commits it (gateway/store/loop_commit.py); on PostgreSQL the loop writes and commits it through an
        # asyncio connection (pg_loop_commit.py).
        self._loop_statements: tuple[Any, Any] | None = None
        self._loop_committer: LoopCommitter | PgLoopCommitter
        failed = lambda error: LogUnavailable(f"cannot queue the events: {one_line(error)}")  # noqa: E731
        if self._dialect == "sqlite":
            self._loop_committer = LoopCommitter(
                engine, self._commit_on_loop, fallback=self._committer, wait_timeout=wait_timeout,
                what="queue the event", failed=failed)
        else:
            self._pg_insert = Prepared(_PG_INSERT, engine.dialect)
            self._loop_committer = PgLoopCommitter(
                engine, self._commit_async, fallback=self._committer, wait_timeout=wait_timeout,
                busy_timeout=busy_timeout, what="queue the event", failed=failed)

    def close(self) -> None:
        self._loop_committer.close()
        self._committer.close()
        self._turns.close()
        self._delivery_turns.close()

    # -- from requests: awaited until committed --------------------------------------------------
    async def warm_up(self) -> None:
        """As ConsentLog.warm_up, for POST /collect's first batch."""
        await self._loop_committer.warm_up()

    async def put(self, item: Accept | Drop) -> str:
        """"queued", "duplicate" or "counted", once committed; LogUnavailable when it was not."""
        return await self._loop_committer.submit(item)

    def put_sync(self, item: Accept | Drop) -> str:
        return self._committer.submit(item)

    def _commit(self, batch: list[Accept | Drop]) -> list[str]:
        """One transaction for the batch: its events in one INSERT, its drops in one upsert per counter.

        Built once per Outbox and run with executemany: SQLAlchemy sends the rows as multi-row INSERTs
        ("insertmanyvalues"), and RETURNING names the rows that went in, so every other one was already
        there (a duplicate). Building a statement per event cost more CPU than the database's own work
        (measured: ~280 us per event, most of it constructing and cache-keying statements)."""
        batch_plan = _BatchPlan(batch, datetime.now(timezone.utc))
        rows, now = batch_plan.rows, batch_plan.now
        with self._writing("queue the events") as connection:
            if not rows:
                inserted = set()
            elif self._dialect == "postgresql":
                document = json.dumps([{column: row[column] for column in _PG_COLUMNS} for row in rows])
                inserted = {tuple(row) for row in connection.execute(
                    _PG_INSERT, {"now": now, "state": PENDING, "batch": document})}
            else:
                inserted = {tuple(row) for row in connection.execute(self._insert_events, rows)}
            if batch_plan.drops:
                connection.execute(self._count_drops, batch_plan.drop_rows())
        return batch_plan.results(inserted)

    def _commit_on_loop(self, connection: Any, cursor: Any, batch: list[Accept | Drop]) -> list[str]:
        """`_commit`'s statements through the loop committer's own SQLite connection, inside the transaction it
        began (it commits after): the same SQL, compiled once and sent to the driver (append.py says why)."""
        if self._loop_statements is None:
            limit = connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            events = PreparedInsert(self._insert_events, self._engine.dialect, list(_EVENT_COLUMNS), limit)
            drops = PreparedInsert(self._count_drops, self._engine.dialect, list(_DROP_COLUMNS), limit)
            self._loop_statements = (events, drops)
        events, drops = self._loop_statements
        batch_plan = _BatchPlan(batch, datetime.now(timezone.utc))
        inserted = set(events.run(cursor, batch_plan.rows)) if batch_plan.rows else set()
        if batch_plan.drops:
            drops.run(cursor, batch_plan.drop_rows())
        return batch_plan.results(inserted)

    async def _commit_async(self, connection: Any, batch: list[Accept | Drop]) -> list[str]:
        """PostgreSQL, from the event loop: `_commit`'s writes in one transaction and one round trip (BEGIN, the
        writes, COMMIT in one query string). A connection the server closed since the last batch is replaced before
        this is sent (PgLoopCommitter); once sent, a failed batch may have committed and is not tried again."""
        import psycopg

        batch_plan = _BatchPlan(batch, datetime.now(timezone.utc))
        statements, parameters = ["BEGIN"], {}
        if batch_plan.rows:
            document = json_document([{column: row[column] for column in _PG_COLUMNS} for row in batch_plan.rows])
            statements.append(self._pg_insert.sql)
            parameters.update(self._pg_insert.parameters({"now": batch_plan.now, "state": PENDING, "batch": document}))
        if batch_plan.drops:
            statements.append(_PG_COUNT_DROPS)
            parameters["drops"] = json_document(batch_plan.drop_rows())
        statements.append("COMMIT")
        async with psycopg.AsyncClientCursor(connection) as cursor:
            await cursor.execute("; ".join(statements), parameters)
            inserted = set()
            if batch_plan.rows:
                cursor.nextset()  # past BEGIN: the events' RETURNING
                inserted = {tuple(row) for row in await cursor.fetchall()}
        return batch_plan.results(inserted)

    # -- delivery ---------------------------------------------------------------------------------
    def claim(self, limit: int, lease_seconds: float, now: datetime | None = None) -> list[Claimed]:
        """Up to `limit` due rows, marked `sending` under a fresh claim token until the lease ends."""
        now = now or datetime.now(timezone.utc)
        token = secrets.token_hex(8)
        due = or_(and_(event_outbox.c.state == PENDING, event_outbox.c.next_attempt_at <= now),
                  and_(event_outbox.c.state == SENDING, event_outbox.c.lease_until <= now))
        query = (select(event_outbox.c.id, event_outbox.c.payload, event_outbox.c.site, event_outbox.c.attempts)
                 .where(due).order_by(event_outbox.c.next_attempt_at).limit(limit)
                 .with_for_update(skip_locked=True))
        lease_until = now + timedelta(seconds=lease_seconds)
        with self._delivery_write("claim events") as connection:
            rows = connection.execute(query).all()
            if not rows:
                return []
            connection.execute(update(event_outbox).where(event_outbox.c.id.in_([r.id for r in rows])).values(
                state=SENDING, attempts=event_outbox.c.attempts + 1, claim=token, lease_until=lease_until))
        return [Claimed(r.id, ServerEvent.from_json(r.payload), r.site, r.attempts + 1, token, lease_until)
                for r in rows]

    def settle(self, claimed: Claimed, state: str, *, error: str | None = None,
               next_attempt_at: datetime | None = None) -> bool:
        """Record a delivery's result; False when the claim was lost (its lease ran out, another took it)."""
        return self.settle_many([Settlement(claimed, state, error, next_attempt_at)])[0]

    def settle_many(self, settlements: list[Settlement]) -> list[bool]:
        """Record several deliveries' results in one transaction (the worker settles a batch at once: one
        write turn instead of one per event, while requests wait for the same lock); per settlement,
        False when its claim was lost."""
        if not settlements:
            return []
        now = datetime.now(timezone.utc)
        settled = []
        with self._delivery_write("settle events") as connection:
            for item in settlements:
                values: dict[str, Any] = {"state": item.state, "claim": None, "lease_until": None}
                if item.state == DELIVERED:
                    values["delivered_at"] = now
                    values["last_error"] = None
                else:
                    values["last_error"] = (item.error or "")[:MAX_ERROR]
                if item.next_attempt_at is not None:
                    values["next_attempt_at"] = item.next_attempt_at
                settled.append(bool(connection.execute(update(event_outbox).where(
                    event_outbox.c.id == item.claimed.id, event_outbox.c.claim == item.claimed.claim,
                    event_outbox.c.state == SENDING).values(**values)).rowcount))
        return settled

    def release(self, claimed: Claimed, until: datetime) -> bool:
        """Give a claimed row back unsent, due at `until`: the attempt it was claimed for does not count."""
        with self._delivery_write("release an event") as connection:
            return bool(connection.execute(update(event_outbox).where(
                event_outbox.c.id == claimed.id, event_outbox.c.claim == claimed.claim,
                event_outbox.c.state == SENDING).values(state=PENDING, claim=None, lease_until=None,
                                                         attempts=event_outbox.c.attempts - 1,
                                                         next_attempt_at=until)).rowcount)

    def hold_vendor(self, vendor: str, until: datetime) -> None:
        """The vendor said when to come back (Retry-After): none of its pending events is tried before then."""
        with self._delivery_write("hold a vendor's events") as connection:
            connection.execute(update(event_outbox).where(
                event_outbox.c.vendor == vendor, event_outbox.c.state == PENDING,
                event_outbox.c.next_attempt_at < until).values(next_attempt_at=until))

    def next_due(self) -> datetime | None:
        """When the earliest pending row is due (the worker sleeps until then, or until woken)."""
        with self._reading("read the outbox") as connection:
            return connection.execute(select(func.min(event_outbox.c.next_attempt_at))
                                      .where(event_outbox.c.state == PENDING)).scalar_one_or_none()

    # -- the CLI ------------------------------------------------------------------------------------
    def rows(self, *, since: datetime | None = None, consent_id: str | None = None) -> list[Any]:
        query = select(event_outbox.c.id, event_outbox.c.site, event_outbox.c.vendor, event_outbox.c.tag_id,
                       event_outbox.c.event_id, event_outbox.c.consent_id, event_outbox.c.state,
                       event_outbox.c.attempts, event_outbox.c.last_error, event_outbox.c.created_at,
                       event_outbox.c.delivered_at, event_outbox.c.payload).order_by(event_outbox.c.id)
        if since is not None:
            query = query.where(event_outbox.c.created_at >= since)
        if consent_id is not None:
            query = query.where(event_outbox.c.consent_id == consent_id)
        with self._reading("read the outbox") as connection:
            return connection.execute(query).all()

    def drops(self, since_day: str, site: str | None = None) -> list[Any]:
        query = select(event_drops).where(event_drops.c.day >= since_day)
        if site is not None:
            query = query.where(event_drops.c.site == site)
        with self._reading("read the dropped events") as connection:
            return connection.execute(query).all()

    def counts(self, since: datetime, site: str | None = None) -> list[Any]:
        """(day, vendor, state, tried, n) of the events accepted since `since`, counted by the database:
        a week of a busy store's events is never read into memory for `gateway events stats`.
        `day` is the UTC day as YYYY-MM-DD; `tried`: at least one attempt was made."""
        created = event_outbox.c.created_at
        # SQLite keeps the UTC time as text (schema.UTCDateTime), PostgreSQL as timestamptz.
        day = (func.substr(created, 1, 10) if self._dialect == "sqlite"
               else func.to_char(func.timezone("UTC", created), "YYYY-MM-DD")).label("day")
        tried = (event_outbox.c.attempts > 0).label("tried")
        query = (select(day, event_outbox.c.vendor, event_outbox.c.state, tried, func.count().label("n"))
                 .where(created >= since).group_by(day, event_outbox.c.vendor, event_outbox.c.state, tried))
        if site is not None:
            query = query.where(event_outbox.c.site == site)
        with self._reading("count the events") as connection:
            return connection.execute(query).all()

    def retry_dead(self, vendor: str | None = None) -> int:
        """Dead events become due now with a fresh count of attempts; the last error stays until then."""
        query = update(event_outbox).where(event_outbox.c.state == DEAD)
        if vendor is not None:
            query = query.where(event_outbox.c.vendor == vendor)
        with self._writing("retry dead events") as connection:
            return connection.execute(query.values(state=PENDING, attempts=0,
                                                   next_attempt_at=datetime.now(timezone.utc))).rowcount

    def delete_consent(self, consent_id: str) -> int:
        with self._writing("delete events") as connection:
            return connection.execute(delete(event_outbox).where(event_outbox.c.consent_id == consent_id)).rowcount

    def delete_before(self, cutoff: datetime) -> int:
        with self._writing("delete events") as connection:
            return connection.execute(delete(event_outbox).where(event_outbox.c.created_at < cutoff)).rowcount

    # -- plumbing -----------------------------------------------------------------------------------
    @contextmanager
    def _writing(self, what: str) -> Iterator[Connection]:
        try:
            with self._turns.turn(), self._engine.connect() as connection:
                connection.execution_options(tag_gateway_write=True)  # SQLite: BEGIN IMMEDIATE
                with connection.begin():
                    yield connection
        except SQLAlchemyError as error:
            raise LogUnavailable(f"cannot {what}: {one_line(error)}") from None

    @contextmanager
    def _delivery_write(self, what: str) -> Iterator[Connection]:
        """A write of the delivery's own bookkeeping (claim, settle, release, hold), committed without waiting
        for the disk: SQLite synchronous=NORMAL (the WAL survives the process's death, not a power cut),
        PostgreSQL synchronous_commit off for this transaction.

        Why: these writes acknowledge nothing to anyone. Losing the last of them to a power cut (never to a
        crash of the gateway) means a row is claimed again once its lease ends and sent again, which Meta and
        TikTok de-duplicate by event id, as after any crash mid-delivery. Flushing each settle instead cost
        about a millisecond of CPU per delivered event here, as much as the requests' own commits.
        An event's acceptance (`_commit`) is always flushed before POST /collect answers."""
        try:
            with self._delivery_turns.turn(), self._engine.connect() as connection:
                connection.execution_options(tag_gateway_write=True)
                raw = connection.connection.dbapi_connection if self._dialect == "sqlite" else None
                if raw is not None:
                    raw.execute("PRAGMA synchronous = NORMAL")  # outside a transaction, as SQLite requires
                try:
                    with connection.begin():
                        if self._dialect == "postgresql":
                            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                        yield connection
                finally:
                    if raw is not None:
                        try:
                            raw.execute("PRAGMA synchronous = FULL")  # back for every other use of the connection
                        except Exception:
                            connection.invalidate()  # never back in the pool with flushing off
                            raise
        except SQLAlchemyError as error:
            raise LogUnavailable(f"cannot {what}: {one_line(error)}") from None

    @contextmanager
    def _reading(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.connect() as connection:
                with connection.begin():
                    yield connection
        except SQLAlchemyError as error:
            raise LogUnavailable(f"cannot {what}: {one_line(error)}") from None

"""The consent log: every decision, durable before it is acknowledged, in a verifiable hash chain.

`ConsentLog.open()` creates or migrates the schema; `record()` appends one decision
and returns only after the transaction committed (SQLite: WAL fsynced with
``synchronous=FULL``; PostgreSQL: ``synchronous_commit`` at least ``on``). Any
database failure raises `LogUnavailable`: nothing was stored, nothing may be
acknowledged.

Decisions recorded at the same time share one transaction (group commit): each caller
still returns only after its batch committed, and every caller of a batch that failed gets
the error. Threads go through group_commit.py; requests on the event loop through
loop_commit.py on SQLite (the loop writes the batch, a thread commits it) and pg_loop_commit.py on
PostgreSQL (the loop writes and commits it).

Several writers (processes, gateway instances) append one transaction at a time: each
takes the lock on the chain head first (the ``chain_state`` row, ``SELECT ... FOR
UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite) and reads the head under that
lock, so the chain stays linear and ``seq`` has no gaps. See chain.py for the hashes,
retention.py for how long records are kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from alembic.util import CommandError
from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from gateway.forks import in_forked_child
from gateway.store import chain, database, pg_append
from gateway.store.append import Appender, AppendStatements, append_statements
from gateway.store.decision import MAX_USER_AGENT, Decision, Record
from gateway.store.group_commit import GroupCommitter
from gateway.store.errors import LogUnavailable, StoreError, UnknownConsent, one_line
from gateway.store.ip import truncate_ip
from gateway.store.loop_commit import LoopCommitter
from gateway.store.pg_loop_commit import PgLoopCommitter
from gateway.store.schema import banner_texts, chain_state, consent_records

_RECORD_COLUMNS = [c for c in consent_records.c if c.name != "personal_salt"]


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int                 # records whose hashes were checked
    head_seq: int                # the chain head as stored
    head_hash: str               # keep it elsewhere too: it pins the whole chain up to now
    anchor_seq: int              # records up to here were purged
    broken_seq: int | None = None
    broken_consent_id: str | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            span = f"{self.checked} records, {self.anchor_seq + 1}..{self.head_seq}" if self.checked else "no records"
            purged = f"; records 1..{self.anchor_seq} purged" if self.anchor_seq else ""
            return f"OK: the chain is intact ({span}{purged}); head hash {self.head_hash}"
        who = f" (consent id {self.broken_consent_id})" if self.broken_consent_id else ""
        return f"BROKEN at record {self.broken_seq}{who}: {self.problem}"


@dataclass(frozen=True)
class Purge:
    deleted: int
    anchor_seq: int              # the chain now starts after this record
    cutoff: datetime


class ConsentLog:
    """One engine, created at start-up; thread-safe. Use `ConsentLog.open`."""

    def __init__(self, engine: Engine, url: str, busy_timeout: float = database.BUSY_TIMEOUT):
        self._engine = engine
        self.url = url           # without the password
        # A caller may wait for the batch ahead of its own, then its own: each bounded by the
        # database's lock/busy and connect timeouts. Past that it gets a 503, never a hang.
        self._turns = database.WriterTurns(engine.url)
        self._appender = Appender(engine)  # the committer thread's own connection
        wait_timeout = 2 * busy_timeout + database.CONNECT_TIMEOUT
        self._committer = GroupCommitter(self._append, what="record the decision", turn=self._turns.turn,
                                         wait_timeout=wait_timeout)
        # POST /consent's path, from the event loop: on SQLite the loop writes the batch and a thread commits
        # it; on PostgreSQL the loop does both through an asyncio connection.
        self._loop_statements: AppendStatements | None = None
        self._loop_committer: LoopCommitter | PgLoopCommitter
        if engine.dialect.name == "sqlite":
            self._loop_committer = LoopCommitter(engine, self._append_on_loop, fallback=self._committer,
                                                 failed=self._failed, wait_timeout=wait_timeout,
                                                 what="record the decision")
        else:
            self._loop_committer = PgLoopCommitter(engine, self._append_async, fallback=self._committer,
                                                   failed=self._failed, wait_timeout=wait_timeout,
                                                   busy_timeout=busy_timeout, what="record the decision")
        # A forked worker must not use the parent's connections (a shared socket or SQLite file
        # lock): it opens its own; the parent keeps its pool.
        in_forked_child(engine, lambda forked: forked.dispose(close=False))
        in_forked_child(self._appender, Appender.forget)

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True,
             busy_timeout: float = database.BUSY_TIMEOUT) -> ConsentLog:
        """Open the log at `url`, else `DATABASE_URL`, else ./tag-gateway.sqlite3; create or migrate it to head.

        create=False refuses to create a missing SQLite file (the CLI's reading commands).
        Raises LogUnavailable, with a one-line message, when the database cannot be used.
        """
        resolved = database.resolve_url(url)
        shown = database.describe(resolved)
        path = database.sqlite_path(resolved)
        if path is not None and not create and not path.exists():
            hint = "" if database.ENV_VAR in os.environ else f" (set {database.ENV_VAR} to use another)"
            raise LogUnavailable(f"no consent log at {path}{hint}")
        if path is not None and path.is_dir():
            raise LogUnavailable(f"{shown}: {path} is a directory, not a SQLite file")
        from gateway.store import migrate  # not at import: `python -m gateway.store.migrate` runs it as __main__

        engine = database.create(resolved, busy_timeout=busy_timeout)
        try:
            migrate.upgrade(engine)
        except CommandError as error:
            engine.dispose()
            raise LogUnavailable(f"{shown}: cannot migrate the consent log: {one_line(error)} "
                                 "(was it written by a newer gateway?)") from None
        except migrate.MigrationFailed as error:
            engine.dispose()
            raise LogUnavailable(f"{shown}: {error}") from None
        except (SQLAlchemyError, OSError) as error:
            engine.dispose()
            raise LogUnavailable(f"{shown}: {one_line(error)}") from None
        return cls(engine, shown, busy_timeout)

    @property
    def engine(self) -> Engine:
        """The engine, for the other tables in the same database (gateway/store/email_opens.py)."""
        return self._engine

    def close(self) -> None:
        self._loop_committer.close()
        self._committer.close()  # what is queued is committed first
        self._appender.close()
        self._turns.close()
        self._engine.dispose()

    def __enter__(self) -> ConsentLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def record(self, decision: Decision) -> Record:
        """Append `decision`; returns the stored record once committed. Raises LogUnavailable."""
        pending = self._row(decision)
        self._committer.submit(pending)  # returns once committed (seq and hashes filled in)
        return _stored(pending[0])

    async def record_async(self, decision: Decision) -> None:
        """`record` for a caller on an event loop (POST /consent): returns once committed, without a thread.

        It returns nothing: POST /consent answers with the signed token, not the record, and building the
        frozen Record cost as much as a tenth of the write path (`records()` and `show()` read it back)."""
        await self._loop_committer.submit(self._row(decision))

    async def warm_up(self) -> None:
        """On a worker's event loop at its start: open what POST /consent's first batch would (PostgreSQL: the
        loop's connection). Never raises; the first batch meets any failure again."""
        await self._loop_committer.warm_up()

    @staticmethod
    def _row(decision: Decision) -> tuple[dict[str, Any], str, chain.PendingHash]:
        if not isinstance(decision, Decision):
            raise TypeError("record() takes a Decision")
        ip_prefix = truncate_ip(decision.ip)
        user_agent = decision.user_agent[:MAX_USER_AGENT] if decision.user_agent is not None else None
        salt = chain.new_salt()
        texts, texts_hash = _texts_and_hash(decision.banner_texts)
        row: dict[str, Any] = {
            "consent_id": decision.consent_id, "decided_at": decision.decided_at, "action": decision.action,
            "categories": list(decision.categories), "offered": list(decision.offered), "region": decision.region,
            "rule": decision.rule, "gpc": decision.gpc, "policy_version": decision.policy_version,
            "container_version": decision.container_version, "banner_texts_hash": texts_hash,
            "language": decision.language, "ip_prefix": ip_prefix, "user_agent": user_agent,
            "personal_salt": salt, "personal_digest": chain.personal_digest(salt, ip_prefix, user_agent),
            "erased_at": None, "site": decision.site,
            "vendors_refused": None if decision.vendors_refused is None else list(decision.vendors_refused),
            "vendors_offered": None if decision.vendors_offered is None else list(decision.vendors_offered),
        }
        return row, texts, chain.PendingHash(row)

    def _append(self, batch: list[tuple[dict[str, Any], str, chain.PendingHash]]) -> list[None]:
        """Append a batch of (row, banner texts, pending hash) after the chain head in one transaction (the
        committer's thread, holding the write turn)."""
        self._appender.append(batch, datetime.now(timezone.utc), failed=self._failed)
        return [None] * len(batch)

    def _failed(self, error: Exception) -> LogUnavailable:
        return LogUnavailable(f"{self.url}: cannot record the decision: {one_line(error)}")

    def _append_on_loop(self, connection: Any, cursor: Any,
                        batch: list[tuple[dict[str, Any], str, chain.PendingHash]]) -> list[None]:
        """The loop committer's batch, inside the transaction it began (it commits after)."""
        if self._loop_statements is None:
            self._loop_statements = append_statements(self._engine.dialect, connection)
        self._loop_statements.append(cursor, batch, datetime.now(timezone.utc))
        return [None] * len(batch)

    async def _append_async(self, connection: Any, batch: list[tuple[dict[str, Any], str, chain.PendingHash]]
                            ) -> list[None]:
        """PostgreSQL: the loop committer's batch, written and committed through its asyncio connection."""
        await pg_append.append_async(connection, batch, datetime.now(timezone.utc))
        return [None] * len(batch)

    def erase(self, consent_id: str, now: datetime | None = None) -> int:
        """Remove the personal fields (IP prefix, user agent) of every record of `consent_id`.

        The records stay, marked erased, and the chain still verifies (it holds only their
        salted digest). Returns how many records were erased now (0: all already were).
        Raises UnknownConsent when no record has this id.
        """
        moment = now or datetime.now(timezone.utc)
        with self._writing("erase") as connection:
            found = connection.execute(select(func.count()).select_from(consent_records)
                                       .where(consent_records.c.consent_id == consent_id)).scalar_one()
            if not found:
                raise UnknownConsent(f"no consent record has the id {consent_id!r}")
            result = connection.execute(
                update(consent_records)
                .where(consent_records.c.consent_id == consent_id, consent_records.c.erased_at.is_(None))
                .values(ip_prefix=None, user_agent=None, personal_salt=None, erased_at=moment))
            return result.rowcount

    def purge(self, older_than_days: int, now: datetime | None = None) -> Purge:
        """Delete the oldest records, decided more than `older_than_days` ago, keeping the chain verifiable.

        Only a prefix of the chain can go: a record older than the cutoff that follows a
        newer one (clocks of several instances) waits for the next purge. The hash of the
        last deleted record becomes the chain's anchor. Banner texts no record refers to
        any more go too. Refuses (StoreError) when the chain does not verify: a purge must
        not erase the evidence of tampering.
        """
        if older_than_days < 0:
            raise ValueError("older_than_days must be >= 0")
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
        check = self.verify()
        if not check.ok:
            raise StoreError(f"not purging: {check.describe()}")
        with self._writing("purge") as connection:
            head = _lock_head(connection)
            first_kept = connection.execute(select(func.min(consent_records.c.seq))
                                            .where(consent_records.c.decided_at >= cutoff)).scalar_one()
            last_deleted = head.head_seq if first_kept is None else first_kept - 1
            if last_deleted <= head.anchor_seq:
                return Purge(0, head.anchor_seq, cutoff)
            anchor_hash = connection.execute(select(consent_records.c.record_hash)
                                             .where(consent_records.c.seq == last_deleted)).scalar_one()
            deleted = connection.execute(delete(consent_records)
                                         .where(consent_records.c.seq <= last_deleted)).rowcount
            connection.execute(update(chain_state).where(chain_state.c.id == 1).values(
                anchor_seq=last_deleted, anchor_hash=anchor_hash, purged_at=datetime.now(timezone.utc)))
            used = select(consent_records.c.banner_texts_hash).distinct()
            connection.execute(delete(banner_texts).where(banner_texts.c.hash.not_in(used)))
            return Purge(deleted, last_deleted, cutoff)

    # -- reading ---------------------------------------------------------------------------

    def records(self, *, consent_id: str | None = None, since: datetime | None = None,
                site: str | None = None) -> Iterator[Record]:
        """Records in chain order, streamed; optionally of one consent id, decided at or after `since`, of one site."""
        query = select(*_RECORD_COLUMNS).order_by(consent_records.c.seq)
        if consent_id is not None:
            query = query.where(consent_records.c.consent_id == consent_id)
        if site is not None:
            query = query.where(consent_records.c.site == site)
        if since is not None:
            query = query.where(consent_records.c.decided_at >= since)
        with self._reading("read the records") as connection:
            try:
                for row in connection.execution_options(yield_per=500).execute(query):
                    yield _to_record(row._mapping)
            except SQLAlchemyError as error:
                raise LogUnavailable(f"{self.url}: cannot read the records: {one_line(error)}") from None

    def show(self, consent_id: str) -> list[Record]:
        found = list(self.records(consent_id=consent_id))
        if not found:
            raise UnknownConsent(f"no consent record has the id {consent_id!r}")
        return found

    def banner_texts(self, texts_hash: str) -> dict[str, str] | None:
        """The texts stored under `texts_hash` (None if there are none)."""
        with self._reading("read banner texts") as connection:
            stored = connection.execute(select(banner_texts.c.texts)
                                        .where(banner_texts.c.hash == texts_hash)).scalar_one_or_none()
        return None if stored is None else json.loads(stored)

    def banner_text_versions(self) -> dict[str, dict[str, str]]:
        """Every stored set of banner texts by its hash (few: one per wording the site ever showed)."""
        with self._reading("read banner texts") as connection:
            return {h: json.loads(t) for h, t in connection.execute(select(banner_texts.c.hash, banner_texts.c.texts))}

    def verify(self) -> Verification:
        """Walk the chain from its anchor to its head; the first record that does not fit is named."""
        with self._reading("verify", snapshot=True) as connection:
            state = connection.execute(select(chain_state).where(chain_state.c.id == 1)).one()
            bad_texts = {h for h, t in connection.execute(select(banner_texts.c.hash, banner_texts.c.texts))
                         if chain.sha256(t) != h}
            known_texts = set(connection.execute(select(banner_texts.c.hash)).scalars())
            result = _Walk(state)
            try:
                for row in connection.execution_options(yield_per=1000).execute(
                        select(consent_records).order_by(consent_records.c.seq)):
                    if not result.step(row._mapping, bad_texts, known_texts):
                        break
                else:
                    result.finish()
            except SQLAlchemyError as error:
                raise LogUnavailable(f"{self.url}: cannot verify: {one_line(error)}") from None
        return result.verification()

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _writing(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.connect() as connection:
                connection.execution_options(tag_gateway_write=True)
                with connection.begin():
                    yield connection
        except SQLAlchemyError as error:
            raise LogUnavailable(f"{self.url}: cannot {what}: {one_line(error)}") from None

    @contextmanager
    def _reading(self, what: str, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; snapshot=True: every statement sees the same moment (SQLite's read
        transactions always do; PostgreSQL needs REPEATABLE READ), e.g. the chain head and the records."""
        try:
            with self._engine.connect() as connection:
                if snapshot and connection.dialect.name == "postgresql":
                    connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    yield connection
        except SQLAlchemyError as error:
            raise LogUnavailable(f"{self.url}: cannot {what}: {one_line(error)}") from None


_TEXTS_REMEMBERED: dict[tuple, tuple[str, str]] = {}
MAX_TEXTS_REMEMBERED = 64


def _texts_and_hash(texts: dict[str, str]) -> tuple[str, str]:
    """The stored form of a set of banner texts and its sha256, remembered per set.

    Every decision stores the texts it was shown under, but a site shows only a few sets (one per language
    and rule, per config version), and serialising and hashing the set again was the largest part of
    preparing a record (measured: 15 of 40 us). The key is the texts themselves, so a changed wording is
    a new entry, never a stale one; past MAX_TEXTS_REMEMBERED sets (config edits over a long run) it
    starts afresh."""
    key = tuple(texts.items())
    known = _TEXTS_REMEMBERED.get(key)
    if known is None:
        text = chain.texts_json(texts)
        known = (text, chain.sha256(text))
        if len(_TEXTS_REMEMBERED) >= MAX_TEXTS_REMEMBERED:
            _TEXTS_REMEMBERED.clear()
        _TEXTS_REMEMBERED[key] = known
    return known


def _stored(row: dict[str, Any]) -> Record:
    """The record as committed (the salt stays in the database: it is erased with the personal fields)."""
    fields = {key: value for key, value in row.items() if key != "personal_salt"}
    return Record(**{**fields, "categories": tuple(row["categories"]), "offered": tuple(row["offered"]),
                     "vendors_refused": _vendors(row["vendors_refused"]), "vendors_offered": _vendors(row["vendors_offered"])})


def _lock_head(connection: Connection) -> Any:
    """The chain head, locked until the transaction ends (a no-op FOR UPDATE on SQLite, which holds the write lock)."""
    return connection.execute(select(chain_state).where(chain_state.c.id == 1).with_for_update()).one()


def _to_record(row: Any) -> Record:
    values = {c.name: row[c.name] for c in _RECORD_COLUMNS}
    values["categories"] = tuple(values["categories"])
    values["offered"] = tuple(values["offered"])
    values["gpc"] = bool(values["gpc"])
    values["vendors_refused"] = _vendors(values["vendors_refused"])
    values["vendors_offered"] = _vendors(values["vendors_offered"])
    return Record(**values)


def _vendors(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


class _Walk:
    """The state of `verify` as it walks the chain."""

    def __init__(self, state: Any):
        self.state = state
        self.expected_seq = state.anchor_seq + 1
        self.prev_hash = state.anchor_hash
        self.checked = 0
        self.broken: tuple[int, str | None, str] | None = None

    def fail(self, seq: int, consent_id: str | None, problem: str) -> bool:
        self.broken = (seq, consent_id, problem)
        return False

    def step(self, row: Any, bad_texts: set[str], known_texts: set[str]) -> bool:
        seq, cid = row["seq"], row["consent_id"]
        if seq != self.expected_seq:
            if seq < self.expected_seq:
                return self.fail(seq, cid, f"it lies before the chain's anchor (record {self.state.anchor_seq})")
            missing = (f"record {self.expected_seq} is" if seq == self.expected_seq + 1
                       else f"records {self.expected_seq}..{seq - 1} are")
            return self.fail(self.expected_seq, None, f"{missing} missing (deleted) before record {seq}")
        if row["prev_hash"] != self.prev_hash:
            before = f"record {seq - 1}" if seq - 1 > self.state.anchor_seq else "the chain's anchor"
            return self.fail(seq, cid, f"its link to {before} does not match: one of the two was edited")
        if row["erased_at"] is None:
            if row["personal_salt"] is None or chain.personal_digest(
                    row["personal_salt"], row["ip_prefix"], row["user_agent"]) != row["personal_digest"]:
                return self.fail(seq, cid, "its IP prefix or user agent was edited")
        elif row["ip_prefix"] is not None or row["user_agent"] is not None:
            return self.fail(seq, cid, "it is marked erased but still holds personal fields")
        if row["banner_texts_hash"] not in known_texts:
            return self.fail(seq, cid, "the banner texts it refers to are missing")
        if row["banner_texts_hash"] in bad_texts:
            return self.fail(seq, cid, "the banner texts it refers to were edited")
        if chain.record_hash(self.prev_hash, row) != row["record_hash"]:
            return self.fail(seq, cid, "its content was edited")
        self.prev_hash = row["record_hash"]
        self.expected_seq += 1
        self.checked += 1
        return True

    def finish(self) -> None:
        last = self.expected_seq - 1
        if last < self.state.head_seq:
            missing = f"record {last + 1} is" if last + 1 == self.state.head_seq else f"records {last + 1}..{self.state.head_seq} are"
            self.fail(last + 1, None, f"{missing} missing (deleted): the chain head is record {self.state.head_seq}")
        elif last > self.state.head_seq or self.prev_hash != self.state.head_hash:
            self.fail(last, None, "the chain head does not match the last record (records appended or edited "
                                  "outside the gateway)")

    def verification(self) -> Verification:
        seq, cid, problem = self.broken or (None, None, None)
        return Verification(ok=self.broken is None, checked=self.checked, head_seq=self.state.head_seq,
                            head_hash=self.state.head_hash, anchor_seq=self.state.anchor_seq,
                            broken_seq=seq, broken_consent_id=cid, problem=problem)

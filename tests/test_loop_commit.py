"""POST /consent's write path on SQLite (gateway/store/loop_commit.py): the event loop writes each batch and a
thread commits it. What a store relies on: the loop keeps serving while another writer holds the database,
nobody is answered before their batch's COMMIT returned, a failed or hung commit acknowledges nobody, a request
that went away before its batch was written is never written, and decisions from several event loops at once
are all stored in one valid chain."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from gateway.store import ConsentLog, LogUnavailable, database
from test_group_commit import verify_with_cli

SAFETY = 10.0  # seconds after which a test lets go of what it holds, so a broken committer fails it, not hangs it


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'consents.sqlite3'}"


def stored_ids(log: ConsentLog) -> list[str]:
    return [record.consent_id for record in log.records()]


async def ticking_for(seconds: float) -> int:
    """How many 10 ms sleeps the loop ran in `seconds` of wall time: about 100 a second when it is free.

    The garbage collector is held off meanwhile: a full collection in a test process that has run hundreds of
    tests stops every thread while it runs, which is not the committer stalling the loop. (A full local run
    once counted one tick in 0.3 s here and could not repeat it; a collection is the likeliest cause.)"""
    ticks, end = 0, time.monotonic() + seconds
    collecting = gc.isenabled()
    gc.disable()
    try:
        while time.monotonic() < end:
            await asyncio.sleep(0.01)
            ticks += 1
    finally:
        if collecting:
            gc.enable()
    return ticks


class CommitFails:
    """The loop committer's connection, with a COMMIT that fails (as a full disk or an I/O error would) while
    `failing` is set."""

    failing = threading.Event()

    def __init__(self, real):
        self._real = real

    def commit(self) -> None:
        if self.failing.is_set():
            self._real.rollback()
            raise sqlite3.OperationalError("disk I/O error")
        self._real.commit()

    def __getattr__(self, name):
        return getattr(self._real, name)


class CommitHangs:
    """A COMMIT that does not return until the test says so."""

    def __init__(self, real, release: threading.Event):
        self._real = real
        self._release = release

    def commit(self) -> None:
        self._release.wait(SAFETY)
        self._real.commit()

    def __getattr__(self, name):
        return getattr(self._real, name)


@contextmanager
def held(release, close):
    """Something the test holds (a write turn, SQLite's lock): let go of after SAFETY seconds at the latest,
    so a broken committer fails the test instead of hanging it; closed at the end."""
    safety = threading.Timer(SAFETY, release)
    safety.start()
    try:
        yield
    finally:
        safety.cancel()
        close()


def wrap_connection(log: ConsentLog, wrapper) -> None:
    committer = log._loop_committer
    connect = committer._connect
    committer._connect = lambda: wrapper(connect())


def test_the_loop_keeps_serving_while_another_process_has_the_write_turn(url, make_decision) -> None:
    with ConsentLog.open(url) as log:
        other_process = database.WriterTurns(make_url(url))  # a lock is per open file: as another worker's
        other_process.take()

        async def scenario():
            decisions = [asyncio.ensure_future(log.record_async(make_decision(consent_id=f"w{n}"))) for n in range(5)]
            ticks = await ticking_for(0.3)
            answered_early = [task for task in decisions if task.done()]
            other_process.give_back()
            return ticks, answered_early, await asyncio.gather(*decisions)

        with held(other_process.give_back, other_process.close):
            ticks, answered_early, _ = asyncio.run(scenario())
        assert ticks >= 10, f"the event loop ran only {ticks} times in 0.3 s while waiting for the write turn"
        assert answered_early == [], "a decision was answered before it could be committed"
        assert stored_ids(log) == [f"w{n}" for n in range(5)]
    assert "OK: the chain is intact (5 records" in verify_with_cli(url)


def test_a_writer_without_turns_holding_the_database_does_not_stall_the_loop(url, make_decision) -> None:
    with ConsentLog.open(url) as log:
        # As `gateway consents erase` from the CLI would: a write transaction of its own, no turns.
        outside = sqlite3.connect(make_url(url).database, isolation_level=None, check_same_thread=False)
        outside.execute("BEGIN IMMEDIATE")

        async def scenario():
            decision = asyncio.ensure_future(log.record_async(make_decision(consent_id="held")))
            ticks = await ticking_for(0.3)
            answered_early = decision.done()
            outside.rollback()
            return ticks, answered_early, await decision

        with held(outside.rollback, outside.close):
            ticks, answered_early, _ = asyncio.run(scenario())
        assert ticks >= 10, f"the event loop ran only {ticks} times in 0.3 s while SQLite was locked"
        assert not answered_early
        assert stored_ids(log) == ["held"]


def test_a_failed_commit_fails_every_caller_of_its_batch_and_the_next_batch_commits(url, make_decision) -> None:
    with ConsentLog.open(url) as log:
        wrap_connection(log, CommitFails)
        CommitFails.failing.set()

        async def decide(prefix: str, count: int):
            return await asyncio.gather(*(log.record_async(make_decision(consent_id=f"{prefix}{n}"))
                                          for n in range(count)), return_exceptions=True)

        failed = asyncio.run(decide("lost", 4))
        assert all(isinstance(outcome, LogUnavailable) for outcome in failed), failed
        assert "cannot record the decision: disk I/O error" in str(failed[0])
        assert stored_ids(log) == []  # none of them was acknowledged, and none is in the log
        CommitFails.failing.clear()  # the disk has room again
        assert asyncio.run(decide("kept", 3)) == [None] * 3  # committed, no error
        assert stored_ids(log) == ["kept0", "kept1", "kept2"]
    assert "OK: the chain is intact (3 records" in verify_with_cli(url)


def test_a_commit_that_hangs_answers_with_an_error_in_bounded_time(url, make_decision) -> None:
    release = threading.Event()
    with ConsentLog.open(url) as log:
        wrap_connection(log, lambda real: CommitHangs(real, release))
        log._loop_committer._wait_timeout = 0.3

        async def decide():
            started = time.monotonic()
            try:
                await log.record_async(make_decision(consent_id="hung"))
            except LogUnavailable as error:
                return time.monotonic() - started, str(error)
            return time.monotonic() - started, "answered"

        waited, outcome = asyncio.run(decide())
        release.set()
        assert outcome == "cannot record the decision: no commit within 0.3 s" and waited < 2, (waited, outcome)


def test_a_request_that_goes_away_before_its_batch_is_written_is_never_written(url, make_decision) -> None:
    with ConsentLog.open(url) as log:
        other_process = database.WriterTurns(make_url(url))
        other_process.take()

        async def scenario():
            kept = asyncio.ensure_future(log.record_async(make_decision(consent_id="kept")))
            gone = asyncio.ensure_future(log.record_async(make_decision(consent_id="gone")))
            await asyncio.sleep(0.05)
            gone.cancel()  # the visitor closed the tab while the batch waited for its turn
            await asyncio.sleep(0.05)
            other_process.give_back()
            return await kept

        with held(other_process.give_back, other_process.close):
            asyncio.run(scenario())
        assert stored_ids(log) == ["kept"]


def test_decisions_from_two_event_loops_at_once_are_all_stored_in_one_chain(url, make_decision) -> None:
    per_loop = 60
    with ConsentLog.open(url) as log:
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def loop_thread(name: str) -> None:
            async def decide():
                return await asyncio.gather(*(log.record_async(make_decision(consent_id=f"{name}{n}"))
                                              for n in range(per_loop)))
            try:
                start.wait()
                for _ in range(3):  # a few rounds, so the two loops' batches overlap
                    asyncio.run(decide())
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=loop_thread, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        stored = list(log.records())
    assert len(stored) == 2 * 3 * per_loop
    assert [record.seq for record in stored] == list(range(1, len(stored) + 1))
    assert f"OK: the chain is intact ({len(stored)} records" in verify_with_cli(url)


def test_one_batch_with_banners_in_two_languages_stores_both_texts(url, make_decision) -> None:
    # A store with an English and a German banner: decisions in both languages commit in one batch, and the
    # batch stores each set of texts once (one multi-row INSERT with its ON CONFLICT clause after the rows).
    english = {"title": "Your privacy choices", "accept_all": "Accept all", "reject_all": "Reject all"}
    german = {"title": "Ihre Datenschutz-Einstellungen", "accept_all": "Alle akzeptieren",
              "reject_all": "Alle ablehnen"}
    with ConsentLog.open(url) as log:
        async def decide():
            return await asyncio.gather(*(log.record_async(make_decision(
                consent_id=f"c{n}", banner_texts=german if n % 2 else english, language="de" if n % 2 else "en"))
                for n in range(6)))

        asyncio.run(decide())
        stored = list(log.records())
        assert len(stored) == 6
        assert [log.banner_texts(record.banner_texts_hash) for record in stored] == [english, german] * 3
    assert "OK: the chain is intact (6 records" in verify_with_cli(url)


def test_a_large_batch_keeps_its_statement_journal_in_memory(url, make_decision) -> None:
    # 200 decisions at once make batches far past the 64 KiB after which SQLite would move a multi-row INSERT's
    # statement journal into a temporary file of its own per commit; the loop's connection keeps it in memory,
    # while the pool's connections (purges, migrations) keep SQLite's default.
    with ConsentLog.open(url) as log:
        async def decide():
            await asyncio.gather(*(log.record_async(make_decision(consent_id=f"big-{n}")) for n in range(200)))

        asyncio.run(decide())
        assert len(stored_ids(log)) == 200
        loop_connection = log._loop_committer._connection.dbapi_connection
        assert loop_connection.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        with log.engine.connect() as pooled:
            assert pooled.exec_driver_sql("PRAGMA temp_store").scalar() == 0  # the default
    assert "OK: the chain is intact (200 records" in verify_with_cli(url)


def test_a_loop_per_request_each_writes_on_its_own_loop(url, make_decision) -> None:
    # Starlette's TestClient runs each request on a new event loop, closed after it: the next loop takes over
    # the write path (it does not stay on the slower fallback), and a second loop running at the same time as
    # the first goes through the fallback's thread.
    with ConsentLog.open(url) as log:
        on_loop, on_thread = [], []
        write = log._loop_committer._write_batch
        log._loop_committer._write_batch = lambda *args: (on_loop.append(len(args[2])), write(*args))[1]
        commit = log._committer._commit
        log._committer._commit = lambda items: (on_thread.append(len(items)), commit(items))[1]

        async def decide(prefix: str):
            await asyncio.gather(*(log.record_async(make_decision(consent_id=f"{prefix}{n}")) for n in range(10)))

        asyncio.run(decide("first"))
        asyncio.run(decide("second"))
        assert on_loop == [10, 10]

        def another_loop_meanwhile() -> None:
            asyncio.run(decide("beside"))

        async def while_running():
            await decide("third")  # this loop writes, and keeps running while the other one decides
            await asyncio.get_running_loop().run_in_executor(None, another_loop_meanwhile)

        asyncio.run(while_running())
        assert on_loop == [10, 10, 10] and sum(on_thread) == 10
        assert len(stored_ids(log)) == 40


def test_a_decision_sent_while_the_log_closes_is_refused_at_once(url, make_decision) -> None:
    # At shutdown the app closes the log on its own event loop: a request still arriving gets its 503 at once
    # (not after the commit wait), and what was committed before stays.
    log = ConsentLog.open(url)

    async def scenario():
        await log.record_async(make_decision(consent_id="before"))
        log.close()
        started = time.monotonic()
        with pytest.raises(LogUnavailable) as refused:
            await log.record_async(make_decision(consent_id="after"))
        return time.monotonic() - started, str(refused.value)

    waited, message = asyncio.run(scenario())
    assert message == "cannot record the decision: the gateway is shutting down" and waited < 1
    with ConsentLog.open(url) as reopened:
        assert stored_ids(reopened) == ["before"]

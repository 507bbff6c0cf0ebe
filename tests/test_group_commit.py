"""Group commit in the consent log, on SQLite and on a real PostgreSQL server: concurrent decisions share
transactions (from threads and from coroutines on one event loop), every one is stored and chained, a
failed commit fails every caller of its batch (and stores none of them), a connection the database
dropped costs no decision, and two processes writing at once keep one valid chain."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from gateway.store import ConsentLog, LogUnavailable, database
from waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = ROOT / ".venv" / "bin" / "gateway"


def verify_with_cli(url: str) -> str:
    """`gateway consents verify`, as an operator runs it; fails the test unless it exits 0."""
    result = subprocess.run([str(GATEWAY), "consents", "verify"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, DATABASE_URL=url), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run_threads(count: int, target) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            target(n)
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def count_batches(log: ConsentLog) -> list[int]:
    """The size of each transaction the log's committers run, in order (their write functions, wrapped): the
    threads' group committer and the event loop's (loop_commit.py, pg_loop_commit.py)."""
    sizes: list[int] = []
    commit = log._committer._commit
    log._committer._commit = lambda items: (sizes.append(len(items)), commit(items))[1]
    on_loop = log._loop_committer
    write = on_loop._write_batch
    # Its items are the one list among its arguments (SQLite's write also gets the connection and cursor;
    # PostgreSQL's a cursor and the attempt, and it returns an awaitable).
    on_loop._write_batch = lambda *args: (sizes.append(len(next(a for a in args if isinstance(a, list)))),
                                          write(*args))[1]
    return sizes


def test_concurrent_records_share_commits_and_every_one_is_stored(database_url, make_decision) -> None:
    threads, per_thread = 24, 10
    with ConsentLog.open(database_url) as log:
        commits = count_batches(log)
        returned = {}

        def write(n: int) -> None:
            for i in range(per_thread):
                record = log.record(make_decision(consent_id=f"t{n}-{i}"))
                returned[record.consent_id] = record

        assert run_threads(threads, write) == []
        stored = list(log.records())
    total = threads * per_thread
    assert [r.seq for r in stored] == list(range(1, total + 1))
    assert {r.consent_id for r in stored} == {f"t{n}-{i}" for n in range(threads) for i in range(per_thread)}
    # What record() returned is what was stored: seq and hashes were filled in by its batch's commit.
    assert all(returned[r.consent_id] == r for r in stored)
    # Fewer transactions than decisions: callers waiting at the same time shared commits.
    assert len(commits) < total / 2, f"{len(commits)} commits for {total} decisions"
    assert f"OK: the chain is intact ({total} records" in verify_with_cli(database_url)


# A decision with this id makes its transaction fail at COMMIT, like a database that refuses the commit
# (deferred checks run only then). Everything else in the same transaction goes down with it.
POISON = {
    "sqlite": [
        "CREATE TABLE poison_target (id TEXT PRIMARY KEY)",
        "CREATE TABLE poison_guard (ref TEXT REFERENCES poison_target(id) DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TRIGGER poison AFTER INSERT ON consent_records WHEN NEW.consent_id = 'poison' "
        "BEGIN INSERT INTO poison_guard VALUES ('nothing'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$",
        "CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON consent_records DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW WHEN (NEW.consent_id = 'poison') EXECUTE FUNCTION refuse_poison()",
    ],
}


def hold_chain_head(url: str, backend: str):
    """A raw connection of another writer that holds the chain head until its commit()."""
    if backend == "sqlite":
        connection = sqlite3.connect(database.sqlite_path(database.resolve_url(url)))
        connection.execute("BEGIN IMMEDIATE")  # the write lock, as the log's own writers take it
        return connection
    connection = psycopg.connect(url)  # autocommit off: the row stays locked until commit()
    connection.execute("SELECT head_seq FROM chain_state FOR UPDATE")
    return connection


def test_a_failed_commit_fails_every_waiter_of_its_batch(database_url, make_decision) -> None:
    with ConsentLog.open(database_url, busy_timeout=20) as log:
        backend = log._engine.dialect.name
        other = create_engine(database.resolve_url(database_url))
        with other.begin() as connection:
            for statement in POISON[backend]:
                connection.exec_driver_sql(statement)
        results: dict[str, object] = {}

        def record(consent_id: str) -> None:
            try:
                results[consent_id] = log.record(make_decision(consent_id=consent_id))
            except LogUnavailable as error:
                results[consent_id] = error

        # Another writer holds the chain head: "first" goes into a commit that waits for it, and the next
        # six callers queue up meanwhile, so they become the next batch, all together.
        batches: list[list[str]] = []  # the consent ids of each transaction, as the committer takes them
        commit = log._committer._commit
        log._committer._commit = lambda items: (batches.append([r["consent_id"] for r, *_ in items]), commit(items))[1]
        holder = hold_chain_head(database_url, backend)
        first = threading.Thread(target=record, args=("first",))
        first.start()
        assert wait_for(lambda: batches == [["first"]], timeout=10, step=0.01), \
            "timed out waiting for the committer to take the first decision"
        batch = ["b1", "b2", "poison", "b3", "b4", "b5"]
        callers = [threading.Thread(target=record, args=(cid,)) for cid in batch]
        for caller in callers:
            caller.start()
        assert wait_for(lambda: len(log._committer._queue) == len(batch), timeout=10, step=0.01), \
            "timed out waiting for the batch to queue up"
        holder.commit()
        holder.close()
        for thread in [first, *callers]:
            thread.join(timeout=60)

        assert results["first"].seq == 1
        assert [sorted(b) for b in batches] == [["first"], sorted(batch)]
        for cid in batch:
            assert isinstance(results[cid], LogUnavailable), (cid, results[cid])
            assert "cannot record the decision" in str(results[cid])
        assert [r.consent_id for r in log.records()] == ["first"]
        after = log.record(make_decision(consent_id="after"))
        assert after.seq == 2 and after.prev_hash == results["first"].record_hash
        other.dispose()
    verify_with_cli(database_url)


WRITER = """
import sys, threading, time
from datetime import datetime, timezone
from gateway.store import ConsentLog, Decision
url, name, threads, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
log = ConsentLog.open(url)
def write(t):
    for i in range(count):
        log.record(Decision(consent_id=f"{name}-{t}-{i}", decided_at=datetime.now(timezone.utc), action="custom",
                            categories=("necessary",), offered=("necessary", "analytics"), region="FR",
                            rule="opt_in", gpc=False, policy_version=1, container_version="x",
                            banner_texts={"title": name}, language="fr", ip="198.51.100.9", user_agent=name))
workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
time.sleep(max(0.0, start - time.time()))
for w in workers: w.start()
for w in workers: w.join()
log.close()
"""


def test_two_processes_writing_at_once_keep_one_valid_chain(database_url) -> None:
    ConsentLog.open(database_url).close()  # the schema exists before both start
    threads, count = 6, 15
    start = time.time() + 1.5
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, database_url, name, str(threads), str(count),
                                   str(start)], cwd=ROOT, stderr=subprocess.PIPE, text=True) for name in ("pa", "pb")]
    for process in processes:
        assert process.wait(timeout=90) == 0, process.stderr.read()
    with ConsentLog.open(database_url) as log:
        stored = list(log.records())
    total = 2 * threads * count
    assert [r.seq for r in stored] == list(range(1, total + 1))
    assert len({r.consent_id for r in stored}) == total
    assert all(b.prev_hash == a.record_hash for a, b in zip(stored, stored[1:]))
    owners = [r.consent_id[:2] for r in stored]
    switches = sum(1 for a, b in zip(owners, owners[1:]) if a != b)
    assert switches >= 1, "the two processes did not write at the same time"
    assert f"OK: the chain is intact ({total} records" in verify_with_cli(database_url)


def test_a_caller_waits_a_bounded_time_and_a_decision_not_yet_taken_is_never_written() -> None:
    # A database that hangs inside a commit (no error, no answer): callers get LogUnavailable after the
    # wait bound instead of hanging the request; one still queued behind the hung commit is dropped.
    from gateway.store.group_commit import GroupCommitter

    release, taken = threading.Event(), threading.Event()
    committed: list[list[str]] = []

    def hung_commit(items: list[str]) -> list[str]:
        taken.set()
        release.wait(30)
        committed.append(items)
        return items

    committer = GroupCommitter(hung_commit, wait_timeout=0.5)
    outcomes: dict[str, object] = {}

    def submit(item: str) -> None:
        started = time.monotonic()
        try:
            outcomes[item] = committer.submit(item)
        except LogUnavailable as error:
            outcomes[item] = (str(error), time.monotonic() - started)

    first = threading.Thread(target=submit, args=("in-the-hung-commit",))
    first.start()
    assert taken.wait(5)
    submit("queued-behind-it")
    first.join(5)
    for item in ("in-the-hung-commit", "queued-behind-it"):
        message, waited = outcomes[item]
        assert message == "cannot commit: no commit within 0.5 s" and waited < 2, outcomes
    release.set()
    committer.close()
    assert committed == [["in-the-hung-commit"]]  # what was never taken was never written


def test_decisions_queued_while_another_process_writes_join_one_batch(tmp_path, make_decision) -> None:
    # The committer waits for the database's write turn before it takes its batch: whatever arrives while
    # another process writes goes into the next transaction together, not one transaction per turn.
    url = f"sqlite:///{tmp_path / 'consents.sqlite3'}"
    with ConsentLog.open(url) as log:
        commits = count_batches(log)
        other_process = database.WriterTurns(database.resolve_url(url))  # its own open file: excluded
        other_process.take()
        callers = [threading.Thread(target=lambda n=n: log.record(make_decision(consent_id=f"q{n}"))) for n in range(7)]
        for caller in callers:
            caller.start()
        assert wait_for(lambda: len(log._committer._queue) == 7, timeout=10, step=0.01), \
            "timed out waiting for seven decisions to queue while the turn is taken"
        assert commits == []  # none written while the other process holds the turn
        other_process.give_back()
        for caller in callers:
            caller.join(10)
        other_process.close()
        assert sorted(r.consent_id for r in log.records()) == [f"q{n}" for n in range(7)]
    assert commits == [7]


def test_a_write_turn_that_cannot_be_taken_fails_only_the_waiting_callers() -> None:
    from contextlib import contextmanager

    from gateway.store.group_commit import GroupCommitter

    refusals = [LogUnavailable("consents.sqlite3-writer: Permission denied")]

    @contextmanager
    def turn():
        if refusals:
            raise refusals.pop()
        yield

    committer = GroupCommitter(lambda items: items, wait_timeout=5, turn=turn)
    with pytest.raises(LogUnavailable, match="consents.sqlite3-writer: Permission denied"):
        committer.submit("refused")
    assert committer.submit("later") == "later"  # the committer kept going: the next turn was taken
    committer.close()


SITES = ("shoes", "hats", None)


def test_coroutines_on_one_event_loop_share_commits_and_every_one_is_stored(database_url, make_decision) -> None:
    # POST /consent awaits record_async on the server's event loop: no thread per request.
    total = 200
    with ConsentLog.open(database_url) as log:
        batches = count_batches(log)

        async def decide_all():
            # Sites and no site in the same batches: the multi-row INSERT carries each row's own.
            return await asyncio.gather(*(log.record_async(make_decision(consent_id=f"c{n}", site=SITES[n % 3]))
                                          for n in range(total)))

        assert asyncio.run(decide_all()) == [None] * total  # each returned once committed
        stored = list(log.records())
    assert [r.seq for r in stored] == list(range(1, total + 1))
    assert sorted(r.consent_id for r in stored) == sorted(f"c{n}" for n in range(total))
    assert all(r.site == SITES[int(r.consent_id[1:]) % 3] for r in stored)
    assert sum(batches) == total and len(batches) < total / 4, batches
    assert f"OK: the chain is intact ({total} records" in verify_with_cli(database_url)


def test_an_awaiting_caller_gets_an_answer_in_bounded_time_and_a_withdrawn_decision_is_never_written() -> None:
    from gateway.store.group_commit import GroupCommitter

    release, taken = threading.Event(), threading.Event()
    committed: list[list[str]] = []

    def hung_commit(items: list[str]) -> list[str]:
        taken.set()
        release.wait(30)
        committed.append(items)
        return items

    committer = GroupCommitter(hung_commit, wait_timeout=0.5)

    async def scenario():
        in_commit = asyncio.ensure_future(committer.submit_async("in-the-hung-commit"))
        await asyncio.get_running_loop().run_in_executor(None, taken.wait, 5)
        queued = asyncio.ensure_future(committer.submit_async("queued-behind-it"))
        cancelled = asyncio.ensure_future(committer.submit_async("request-gone"))
        await asyncio.sleep(0.05)
        cancelled.cancel()  # the client went away before its turn came
        started = time.monotonic()
        outcomes = await asyncio.gather(in_commit, queued, cancelled, return_exceptions=True)
        return outcomes, time.monotonic() - started

    (in_commit, queued, cancelled), waited = asyncio.run(scenario())
    for outcome in (in_commit, queued):
        assert isinstance(outcome, LogUnavailable) and str(outcome) == "cannot commit: no commit within 0.5 s"
    assert isinstance(cancelled, asyncio.CancelledError)
    assert waited < 2
    release.set()
    committer.close()
    assert committed == [["in-the-hung-commit"]]  # neither the timed-out nor the cancelled one was written


def test_a_connection_the_database_dropped_costs_no_decision(postgres_url, make_decision) -> None:
    # The committer keeps one connection between batches. When PostgreSQL drops it (a restart, an idle
    # timeout, an operator's pg_terminate_backend), the next decision is written on a new connection
    # instead of failing (a 503) once.
    with ConsentLog.open(postgres_url) as log:
        first = log.record(make_decision(consent_id="before"))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            # Waits (up to 5 s) until each backend has exited: its connection is closed before the next batch.
            dropped = admin.execute("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
        assert dropped >= 1
        after = log.record(make_decision(consent_id="after"))
        assert (first.seq, after.seq) == (1, 2) and after.prev_hash == first.record_hash
        assert [r.consent_id for r in log.records()] == ["before", "after"]

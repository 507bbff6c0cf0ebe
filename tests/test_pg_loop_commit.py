"""POST /consent's write path on PostgreSQL (gateway/store/pg_loop_commit.py, pg_append.py): the event loop writes
and commits each batch through an asyncio connection of its own. What a store relies on: decisions written this
way read back exactly as the thread's path stores them and the chain verifies; a connection the server dropped
between batches costs nobody an error; a database that does not answer in time acknowledges nobody; and the
durability setting is enforced on this connection too."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from gateway.store import ConsentLog, LogUnavailable

ODD_AGENTS = ["it's \"quoted\" \\ back", "café ☕ \u2028 line", "'; DROP TABLE consent_records; --", "%s %(x)s {}"]


def decide_on_loop(log: ConsentLog, decisions) -> list:
    """Record the decisions at once from one event loop; each outcome (None, or the exception)."""
    async def all_at_once():
        return await asyncio.gather(*(log.record_async(d) for d in decisions), return_exceptions=True)

    return asyncio.run(all_at_once())


def loop_backend_pid(log: ConsentLog) -> int:
    connection = log._loop_committer._connection
    assert connection is not None, "the loop committer has no connection yet"
    return connection.info.backend_pid


def test_records_from_the_loop_read_back_as_the_threads_store_them(postgres_url, make_decision) -> None:
    with ConsentLog.open(postgres_url) as log:
        for n, agent in enumerate(ODD_AGENTS):
            log.record(make_decision(consent_id=f"thread-{n}", user_agent=agent, site="shop"))
        outcomes = decide_on_loop(log, [make_decision(consent_id=f"loop-{n}", user_agent=agent, site="shop",
                                                      vendors_refused=("meta_pixel",),
                                                      vendors_offered=("meta_pixel", "ga4"))
                                        for n, agent in enumerate(ODD_AGENTS)])
        assert outcomes == [None] * len(ODD_AGENTS)
        records = {r.consent_id: r for r in log.records()}
        assert [r.seq for r in log.records()] == list(range(1, 2 * len(ODD_AGENTS) + 1))
        for n, agent in enumerate(ODD_AGENTS):
            by_thread, by_loop = records[f"thread-{n}"], records[f"loop-{n}"]
            assert by_loop.user_agent == by_thread.user_agent == agent
            assert by_loop.categories == by_thread.categories and by_loop.decided_at.tzinfo is not None
            assert by_loop.vendors_refused == ("meta_pixel",) and by_loop.vendors_offered == ("meta_pixel", "ga4")
            assert log.banner_texts(by_loop.banner_texts_hash) == make_decision().banner_texts
        check = log.verify()
        assert check.ok, check.describe()


def test_a_connection_the_server_dropped_between_batches_costs_nobody_an_error(postgres_url, make_decision) -> None:
    with ConsentLog.open(postgres_url) as log:
        async def scenario():
            await log.record_async(make_decision(consent_id="before"))
            pid = loop_backend_pid(log)
            with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart would
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            await asyncio.sleep(0.2)
            await asyncio.gather(*(log.record_async(make_decision(consent_id=f"after-{n}")) for n in range(5)))
            return pid, loop_backend_pid(log)

        old_pid, new_pid = asyncio.run(scenario())
        assert new_pid != old_pid
        assert sorted(r.consent_id for r in log.records()) == ["after-0", "after-1", "after-2", "after-3",
                                                               "after-4", "before"]
        assert log.verify().ok


def test_a_chain_head_locked_elsewhere_answers_every_caller_with_an_error_in_bounded_time(
        postgres_url, make_decision) -> None:
    with ConsentLog.open(postgres_url, busy_timeout=0.5) as log:
        with psycopg.connect(postgres_url) as other:  # another writer that holds the head and does not commit
            other.execute("SELECT * FROM chain_state WHERE id = 1 FOR UPDATE")
            started = time.monotonic()
            outcomes = decide_on_loop(log, [make_decision(consent_id=f"held-{n}") for n in range(4)])
            waited = time.monotonic() - started
            other.rollback()
        assert all(isinstance(o, LogUnavailable) for o in outcomes), outcomes
        assert "lock timeout" in str(outcomes[0]) and postgres_url.split("@")[1] in str(outcomes[0])
        assert waited < 5
        assert decide_on_loop(log, [make_decision(consent_id="later")]) == [None]  # it recovers at once
        assert [r.consent_id for r in log.records()] == ["later"]
        assert log.verify().ok


def test_the_loop_connection_turns_durable_commits_on_where_the_server_turned_them_off(
        postgres_url, make_decision) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    with ConsentLog.open(postgres_url) as log:
        async def setting():
            await log.record_async(make_decision())
            async with log._loop_committer._connection.cursor() as cursor:
                await cursor.execute("SHOW synchronous_commit")
                return (await cursor.fetchone())[0]

        assert asyncio.run(setting()) == "on"


def test_a_closed_log_refuses_decisions_from_the_loop(postgres_url, make_decision) -> None:
    log = ConsentLog.open(postgres_url)
    assert decide_on_loop(log, [make_decision(consent_id="open")]) == [None]
    log.close()
    outcome, = decide_on_loop(log, [make_decision(consent_id="closed")])
    assert isinstance(outcome, LogUnavailable)
    with ConsentLog.open(postgres_url) as reopened:
        assert [r.consent_id for r in reopened.records()] == ["open"]


@pytest.fixture(autouse=True)
def _fast_enough():
    """These tests wait on purpose only in the lock test; anything past this is a hang."""
    started = time.monotonic()
    yield
    assert time.monotonic() - started < 60


def test_a_worker_opens_its_connection_at_start_and_its_first_decisions_use_it(postgres_url, make_decision,
                                                                              monkeypatch) -> None:
    # The app's lifespan warms the log up beside serving: decisions that come meanwhile wait for that one
    # connection (~100 ms) instead of each batch opening its own.
    with ConsentLog.open(postgres_url) as log:
        committer = log._loop_committer
        opening, opened = committer._open, []

        async def counted():
            opened.append(1)
            return await opening()

        monkeypatch.setattr(committer, "_open", counted)

        async def scenario():
            warming = asyncio.create_task(log.warm_up())
            early = await asyncio.gather(*(log.record_async(make_decision(consent_id=f"early-{n}")) for n in range(3)))
            await warming
            await log.record_async(make_decision(consent_id="later"))
            return early

        assert asyncio.run(scenario()) == [None] * 3
        assert len(opened) == 1
        assert sorted(r.consent_id for r in log.records()) == ["early-0", "early-1", "early-2", "later"]


def test_a_warm_up_that_fails_is_logged_and_the_first_decision_connects(postgres_url, make_decision, caplog,
                                                                         monkeypatch) -> None:
    with ConsentLog.open(postgres_url) as log:
        committer = log._loop_committer
        opening = committer._open

        async def refused():
            raise psycopg.OperationalError("connection refused (as while the server restarts)")

        async def scenario():
            monkeypatch.setattr(committer, "_open", refused)
            await log.warm_up()  # never raises
            monkeypatch.setattr(committer, "_open", opening)
            await log.record_async(make_decision(consent_id="after"))

        asyncio.run(scenario())
        assert [r.consent_id for r in log.records()] == ["after"]
    assert "could not get ready to record the decision at start" in caplog.text
    assert "connection refused (as while the server restarts)" in caplog.text

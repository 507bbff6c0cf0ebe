"""PostgreSQL's append function (migration 0009, gateway/store/pg_append.py): the server links each batch into the
chain with sha256 in SQL. What a store relies on: the server hashes exactly what chain.PendingHash hashes in
Python, whatever the text (so `gateway consents verify` passes); a server that links otherwise is reported, not
trusted; a malformed call is refused and writes nothing; a connection the server closed is found before a batch
is sent on it, and a merely readable one (a notification) is not mistaken for closed."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.store import ConsentLog, LogUnavailable, pg_append


# Text the canonical JSON escapes or writes as it is: quotes, backslashes, controls, line separators, accents,
# CJK and characters beyond the BMP (four bytes in UTF-8). PostgreSQL's text holds no NUL: left out.
AWKWARD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=24)
KEYS = st.lists(AWKWARD, max_size=4).map(tuple)


def decisions(make_decision):
    return st.builds(
        lambda consent_id, site, language, version, region, categories, refused, offered, micros: make_decision(
            consent_id=consent_id, site=site, language=language, container_version=version, region=region,
            categories=categories, offered=categories, vendors_refused=refused, vendors_offered=offered,
            decided_at=datetime(2026, 12, 7, tzinfo=timezone.utc) + timedelta(microseconds=micros),
            user_agent="ua ☕ \"x\""),
        consent_id=AWKWARD, site=st.none() | AWKWARD, language=AWKWARD, version=AWKWARD,
        region=st.none() | st.text(max_size=16).filter(lambda s: "\x00" not in s and not any(
            0xD800 <= ord(c) <= 0xDFFF for c in s)),
        categories=KEYS, refused=st.none() | KEYS, offered=st.none() | KEYS,
        micros=st.integers(0, 10**12))


def record_now(log: ConsentLog, batch) -> list:
    async def all_at_once():
        return await asyncio.gather(*(log.record_async(d) for d in batch), return_exceptions=True)

    return asyncio.run(all_at_once())


def test_the_server_hashes_awkward_text_as_python_does(postgres_url, make_decision) -> None:
    with ConsentLog.open(postgres_url) as log:
        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.lists(decisions(make_decision), min_size=1, max_size=5), st.booleans())
        def appended(batch, on_the_loop: bool) -> None:
            if on_the_loop:  # one batch from the event loop: nothing in Python links it
                assert record_now(log, batch) == [None] * len(batch)
            else:  # the thread's path links its own copy and checks the server's head against it
                for decision in batch:
                    log.record(decision)

        appended()
        check = log.verify()  # every hash recomputed in Python from the stored fields
        assert check.ok, check.describe()
        assert check.checked == len(list(log.records())) > 60


def test_one_call_appends_a_whole_batch_after_the_head(postgres_url, make_decision) -> None:
    with ConsentLog.open(postgres_url) as log:
        first = log.record(make_decision(consent_id="first"))
        assert record_now(log, [make_decision(consent_id=f"n-{n}") for n in range(300)]) == [None] * 300
        records = list(log.records())
        assert [r.seq for r in records] == list(range(1, 302))
        assert records[1].prev_hash == first.record_hash
        assert all(after.prev_hash == before.record_hash for before, after in zip(records, records[1:]))
        assert log.verify().ok


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def test_a_call_whose_pieces_do_not_match_its_records_is_refused_and_writes_nothing(postgres_url,
                                                                                      make_decision) -> None:
    with ConsentLog.open(postgres_url) as log:
        log.record(make_decision(consent_id="kept"))
        row, texts, pending = ConsentLog._row(make_decision(consent_id="half"))
        with _connect(postgres_url) as connection:
            with pytest.raises(psycopg.errors.RaiseException, match="1 pieces for 1 records"):
                connection.execute(pg_append.APPEND_AND_COMMIT, (
                    pg_append.json_document([]), pg_append.json_document([{**row, "seq": 1}]),
                    pg_append.json_document([pending.pieces()[0]])))
        assert [r.consent_id for r in log.records()] == ["kept"]
        assert log.verify().ok


def test_a_server_that_links_otherwise_is_reported_not_trusted(postgres_url, make_decision, caplog) -> None:
    # A changed function (a careless migration) that hashes "\r" where Python hashes "\n".
    with ConsentLog.open(postgres_url) as log:
        log.record(make_decision(consent_id="before"))
        with _connect(postgres_url) as connection:
            body = connection.execute("SELECT pg_get_functiondef('tag_gateway_append'::regproc)").fetchone()[0]
            assert "E'\\n'" in body
            connection.execute(body.replace("E'\\n'", "E'\\r'"))
        caplog.set_level(logging.ERROR)
        with pytest.raises(LogUnavailable):
            log.record(make_decision(consent_id="linked-otherwise"))
        assert "the database linked the batch to" in caplog.text and "gateway consents verify" in caplog.text
        check = log.verify()
        assert not check.ok and check.broken_consent_id == "linked-otherwise"


def test_0009_creates_the_function_on_postgresql_and_its_downgrade_drops_it(database_url, make_decision) -> None:
    from test_consent_log import migrate_to, raw

    def functions() -> list:
        if database_url.startswith("sqlite"):
            return []
        return [row[0] for row in raw(database_url, "SELECT proname FROM pg_proc WHERE proname = 'tag_gateway_append'")]

    with ConsentLog.open(database_url) as log:
        log.record(make_decision(consent_id="at-head"))
    assert functions() == ([] if database_url.startswith("sqlite") else ["tag_gateway_append"])
    migrate_to(database_url, "0008", down=True)
    assert functions() == []
    migrate_to(database_url, "0009")
    with ConsentLog.open(database_url) as log:
        log.record(make_decision(consent_id="again"))
        assert [r.consent_id for r in log.records()] == ["at-head", "again"] and log.verify().ok


def test_server_closed_finds_a_terminated_connection_and_not_a_notified_one(postgres_url) -> None:
    with _connect(postgres_url) as admin, _connect(postgres_url) as idle, _connect(postgres_url) as listening:
        assert not pg_append.server_closed(idle)
        listening.execute("LISTEN tag_gateway_test")
        admin.execute("NOTIFY tag_gateway_test, 'hello'")
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (idle.info.backend_pid,)).fetchone()[0]
        assert pg_append.server_closed(idle)
        assert not pg_append.server_closed(listening)  # readable (the notification), and open
        assert listening.execute("SELECT 1").fetchone() == (1,)


def test_0009_refuses_a_server_older_than_sha256_with_a_clear_message(postgres_url) -> None:
    import importlib

    check = importlib.import_module("gateway.store.migrations.versions.0009_pg_append_function").REQUIRE_SHA256
    with _connect(postgres_url) as connection:
        connection.execute(check)  # this server (15) passes
        as_if_older = check.replace("< 110000", "< 990000")  # the same check against a version it is below
        with pytest.raises(psycopg.errors.RaiseException,
                           match=r"the consent log needs PostgreSQL 11 or newer \(sha256\(\)\); this server is \d+"):
            connection.execute(as_if_older)


def test_every_column_the_gateway_fills_is_stored(postgres_url, make_decision) -> None:
    """The function names the columns it inserts. A column added to the table and to ConsentLog._row but not to
    the function (a migration that forgot to replace it) would stay NULL in every record written on PostgreSQL."""
    from test_consent_log import raw

    decision = make_decision(consent_id="every-field", site="shop", region="DE", gpc=True,
                             vendors_refused=("meta_pixel",), vendors_offered=("meta_pixel", "ga4"))
    filled = {name for name, value in ConsentLog._row(decision)[0].items() if value is not None}
    with ConsentLog.open(postgres_url) as log:
        assert record_now(log, [decision]) == [None]
    columns = [name for (name,) in raw(postgres_url, "SELECT column_name FROM information_schema.columns "
                                                     "WHERE table_name = 'consent_records' ORDER BY ordinal_position")]
    stored = dict(zip(columns, raw(postgres_url, "SELECT * FROM consent_records")[0]))
    assert set(columns) == filled | {"seq", "prev_hash", "record_hash", "erased_at"}
    assert [name for name in columns if stored[name] is None] == ["erased_at"]

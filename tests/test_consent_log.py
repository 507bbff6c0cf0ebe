"""The consent log (gateway.store) on SQLite and on a real PostgreSQL server: what a record holds,
that it is durable and chained, that tampering is caught, and that erase and purge keep the proof."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from gateway.store import ConsentLog, LogUnavailable, StoreError, UnknownConsent, truncate_ip
from gateway.store import database, migrate

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(timezone.utc)


def raw(url: str, sql: str, **params):
    """Run SQL on the database behind the log's back (as someone with database access would)."""
    engine = create_engine(database.resolve_url(url))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return result.all() if result.returns_rows else result.rowcount
    finally:
        engine.dispose()


def migrate_to(url: str, revision: str, *, down: bool = False) -> None:
    """Move the log's schema to `revision` with Alembic, as `gateway.store.migrate` runs it."""
    from alembic import command

    engine = database.create(database.resolve_url(url))
    try:
        cfg = migrate.config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()


@pytest.fixture
def log(database_url: str):
    with ConsentLog.open(database_url) as opened:
        yield opened


def test_truncate_ip_keeps_only_the_prefix() -> None:
    assert truncate_ip("203.0.113.77") == "203.0.113.0/24"
    assert truncate_ip("2001:db8:abcd:12:34::1") == "2001:db8:abcd::/48"
    assert truncate_ip("::ffff:198.51.100.9") == "198.51.100.0/24"
    assert truncate_ip("[2001:db8::1]") == "2001:db8::/48"
    assert truncate_ip("fe80::1%eth0") == "fe80::/48"
    for nothing in (None, "", "unknown", "203.0.113", "testclient"):
        assert truncate_ip(nothing) is None


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
       zone=st.sampled_from([None, timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]))
def test_the_chains_time_stamp_is_the_text_every_stored_record_was_hashed_with(moment, zone) -> None:
    # The hash of every record covers its time as this text: a faster way to write it must give the very
    # same characters, or records written before it would stop verifying.
    from gateway.store import chain

    moment = moment.replace(tzinfo=zone)
    assert chain.timestamp(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_decision_must_be_complete_and_aware(make_decision) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_decision(decided_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="action"):
        make_decision(action="maybe")
    with pytest.raises(ValueError, match="rule"):
        make_decision(rule="gdpr")
    with pytest.raises(ValueError, match="region must be a string of at most 16 characters"):
        make_decision(region="X" * 17)
    assert make_decision(categories=["necessary"]).categories == ("necessary",)
    berlin = timezone(timedelta(hours=1))
    assert make_decision(decided_at=datetime(2026, 1, 1, 13, tzinfo=berlin)).decided_at == datetime(
        2026, 1, 1, 12, tzinfo=timezone.utc)


def test_a_record_has_every_field_and_never_the_full_ip(log, database_url, make_decision) -> None:
    decided = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)
    decision = make_decision(consent_id="a1", decided_at=decided, action="custom", categories=("necessary", "analytics"),
                             region="US-CA", rule="opt_out", gpc=True, policy_version=3, language="de",
                             ip="203.0.113.77", user_agent="UA/1")
    stored = log.record(decision)
    second = log.record(make_decision(consent_id="a2", ip="2001:db8:abcd:12::99", region=None, user_agent=None))
    long_agent = log.record(make_decision(consent_id="a3", user_agent="A" * 5000, language="x" * 35,
                                          container_version='"' + "e" * 126 + '"'))
    assert long_agent.user_agent == "A" * 512 and log.show("a3")[0] == long_agent

    [read] = log.show("a1")
    assert read == stored
    assert (read.seq, read.consent_id, read.decided_at, read.action) == (1, "a1", decided, "custom")
    assert (read.categories, read.offered) == (("necessary", "analytics"), ("necessary", "analytics", "marketing"))
    assert (read.region, read.rule, read.gpc, read.policy_version) == ("US-CA", "opt_out", True, 3)
    assert (read.container_version, read.language, read.user_agent) == ('"c-1a2b3c"', "de", "UA/1")
    assert read.ip_prefix == "203.0.113.0/24" and read.erased_at is None and not read.erased
    assert log.banner_text_versions()[read.banner_texts_hash] == decision.banner_texts
    assert read.prev_hash == "0" * 64 and second.prev_hash == read.record_hash
    assert (second.seq, second.ip_prefix, second.region, second.user_agent) == (2, "2001:db8:abcd::/48", None, None)

    # Nowhere in the database, in any column of any table, is a full address.
    for table in ("consent_records", "banner_texts", "chain_state"):
        dump = repr(raw(database_url, f"SELECT * FROM {table}"))
        assert "203.0.113.77" not in dump and "2001:db8:abcd:12" not in dump


def test_text_with_tabs_newlines_backslashes_and_non_ascii_is_stored_as_sent(log, make_decision) -> None:
    """PostgreSQL receives a batch through COPY, whose text format gives tabs, newlines and backslashes a
    meaning of their own: each must come back as the visitor's browser sent it, and the chain verify."""
    agents = ["Tab\there", "Line\nbreak\r\n", "Back\\slash \\N", "\\.", "Ünïcödé ☕ \u2028", "null", ""]
    for n, agent in enumerate(agents):
        stored = log.record(make_decision(consent_id=f"t{n}", user_agent=agent, language="pt-BR",
                                          container_version="v\t1"))
        assert stored.user_agent == agent
    assert [log.show(f"t{n}")[0].user_agent for n in range(len(agents))] == agents
    assert log.verify().ok


def test_each_distinct_banner_text_version_is_stored_once(log, database_url, make_decision) -> None:
    english = {"title": "Your privacy choices", "text": "We use cookies."}
    german = {"title": "Ihre Datenschutz-Einstellungen", "text": "Wir verwenden Cookies."}
    records = [log.record(make_decision(consent_id=f"v{i}", banner_texts=texts, language=texts is german and "de" or "en"))
               for i, texts in enumerate([english, english, german, dict(reversed(list(english.items())))])]
    assert raw(database_url, "SELECT count(*) FROM banner_texts") == [(2,)]
    assert records[0].banner_texts_hash == records[1].banner_texts_hash == records[3].banner_texts_hash
    assert records[2].banner_texts_hash != records[0].banner_texts_hash
    assert log.banner_text_versions() == {records[0].banner_texts_hash: english, records[2].banner_texts_hash: german}


def _five(log, make_decision) -> None:
    for i in range(5):
        log.record(make_decision(consent_id=f"id{i}", decided_at=NOW - timedelta(minutes=10 - i)))


def test_verify_passes_then_catches_an_edited_record(log, database_url, make_decision) -> None:
    _five(log, make_decision)
    check = log.verify()
    assert check.ok and check.checked == 5 and check.head_seq == 5
    assert check.describe().startswith("OK: the chain is intact (5 records, 1..5)")

    raw(database_url, "UPDATE consent_records SET categories = :c WHERE seq = 3", c='["necessary","marketing"]')
    check = log.verify()
    assert not check.ok and (check.broken_seq, check.broken_consent_id) == (3, "id2")
    assert check.describe() == "BROKEN at record 3 (consent id id2): its content was edited"


def test_verify_catches_edited_personal_fields_and_banner_texts(log, database_url, make_decision) -> None:
    _five(log, make_decision)
    raw(database_url, "UPDATE consent_records SET user_agent = 'someone else' WHERE seq = 2")
    assert (log.verify().broken_seq, log.verify().problem) == (2, "its IP prefix or user agent was edited")
    raw(database_url, "UPDATE consent_records SET user_agent = :ua WHERE seq = 2",
        ua=make_decision().user_agent)
    assert log.verify().ok
    raw(database_url, "UPDATE banner_texts SET texts = :t", t='{"title":"We never asked"}')
    assert (log.verify().broken_seq, log.verify().problem) == (1, "the banner texts it refers to were edited")


def test_verify_catches_an_edit_that_recomputed_the_records_own_hash(log, database_url, make_decision) -> None:
    _five(log, make_decision)
    raw(database_url, "UPDATE consent_records SET record_hash = :h WHERE seq = 2", h="f" * 64)
    check = log.verify()
    assert check.broken_seq == 2 and "content was edited" in check.problem


def test_verify_catches_a_deleted_record(log, database_url, make_decision) -> None:
    _five(log, make_decision)
    raw(database_url, "DELETE FROM consent_records WHERE seq = 3")
    check = log.verify()
    assert not check.ok and check.broken_seq == 3
    assert check.problem == "record 3 is missing (deleted) before record 4"


def test_verify_catches_deleted_newest_and_oldest_records(log, database_url, make_decision) -> None:
    _five(log, make_decision)
    raw(database_url, "DELETE FROM consent_records WHERE seq >= 4")
    check = log.verify()
    assert check.broken_seq == 4 and check.problem == "records 4..5 are missing (deleted): the chain head is record 5"
    raw(database_url, "DELETE FROM consent_records WHERE seq = 1")
    assert log.verify().broken_seq == 1 and log.verify().problem == "record 1 is missing (deleted) before record 2"


def test_erase_removes_the_personal_fields_and_keeps_the_chain(log, database_url, make_decision) -> None:
    _five(log, make_decision)
    log.record(make_decision(consent_id="id2", action="reject_all", categories=("necessary",)))
    assert log.erase("id2") == 2
    erased = log.show("id2")
    assert [r.seq for r in erased] == [3, 6]
    assert all(r.ip_prefix is None and r.user_agent is None and r.erased for r in erased)
    assert raw(database_url, "SELECT count(*) FROM consent_records WHERE personal_salt IS NULL") == [(2,)]
    assert all(r.ip_prefix == "203.0.113.0/24" and not r.erased for r in log.records() if r.consent_id != "id2")
    assert log.verify().ok
    assert log.erase("id2") == 0
    with pytest.raises(UnknownConsent, match="no consent record has the id 'nobody'"):
        log.erase("nobody")
    # Putting personal data back into an erased record is caught too.
    raw(database_url, "UPDATE consent_records SET user_agent = 'guess' WHERE seq = 3")
    assert log.verify().broken_seq == 3


def test_purge_deletes_the_oldest_and_keeps_verify_passing(log, database_url, make_decision) -> None:
    old_texts = {"title": "An old wording"}
    for days, cid in [(40, "a"), (35, "b"), (20, "c"), (2, "d")]:
        log.record(make_decision(consent_id=cid, decided_at=NOW - timedelta(days=days),
                                 banner_texts=old_texts if days > 30 else make_decision().banner_texts))
    done = log.purge(30, now=NOW)
    assert (done.deleted, done.anchor_seq) == (2, 2)
    assert [r.consent_id for r in log.records()] == ["c", "d"]
    assert len(log.banner_text_versions()) == 1  # the old wording went with the last record using it
    check = log.verify()
    assert check.ok and check.anchor_seq == 2 and check.checked == 2
    assert log.purge(30, now=NOW).deleted == 0
    log.record(make_decision(consent_id="e", decided_at=NOW))
    assert log.verify().ok
    assert log.purge(0, now=NOW + timedelta(seconds=1)).deleted == 3
    check = log.verify()
    assert check.ok and check.checked == 0 and check.anchor_seq == check.head_seq == 5
    log.record(make_decision(consent_id="f"))
    assert log.verify().ok and [r.seq for r in log.records()] == [6]
    with pytest.raises(UnknownConsent):
        log.show("a")


def test_purge_refuses_to_hide_tampering(log, database_url, make_decision) -> None:
    for days in (10, 9, 1):
        log.record(make_decision(decided_at=NOW - timedelta(days=days)))
    raw(database_url, "UPDATE consent_records SET action = 'accept_all', gpc = :t WHERE seq = 1", t=True)
    with pytest.raises(StoreError, match="not purging: BROKEN at record 1"):
        log.purge(5, now=NOW)
    assert raw(database_url, "SELECT count(*) FROM consent_records") == [(3,)]


def test_a_purge_anchor_that_is_edited_is_caught(log, database_url, make_decision) -> None:
    for days in (10, 1):
        log.record(make_decision(decided_at=NOW - timedelta(days=days)))
    log.purge(5, now=NOW)
    raw(database_url, "UPDATE chain_state SET anchor_hash = :h", h="e" * 64)
    assert log.verify().broken_seq == 2


def test_concurrent_writers_keep_the_chain_linear(database_url, make_decision) -> None:
    # Two "instances" (two engines), four threads each: nothing lost, no fork in the chain.
    logs = [ConsentLog.open(database_url), ConsentLog.open(database_url)]
    per_thread, threads = 12, 8
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []
    checks = []

    def check_meanwhile() -> None:  # verify sees one moment of the chain, never a half-written one
        barrier.wait()
        while any(worker.is_alive() for worker in workers):
            checks.append(logs[0].verify())

    def write(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                logs[n % 2].record(make_decision(consent_id=f"t{n}-{i}"))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    checker = threading.Thread(target=check_meanwhile)
    for worker in workers:
        worker.start()
    checker.start()
    for worker in workers:
        worker.join()
    checker.join()
    assert errors == []
    assert checks and all(check.ok for check in checks), [c.describe() for c in checks if not c.ok][:1]
    records = list(logs[0].records())
    assert [r.seq for r in records] == list(range(1, per_thread * threads + 1))
    assert {r.consent_id for r in records} == {f"t{n}-{i}" for n in range(threads) for i in range(per_thread)}
    assert all(b.prev_hash == a.record_hash for a, b in zip(records, records[1:]))
    assert logs[1].verify().ok
    for opened in logs:
        opened.close()


WRITER = """
import sys, time
from datetime import datetime, timezone
from gateway.store import ConsentLog, Decision
url, name, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
time.sleep(max(0.0, start - time.time()))
log = ConsentLog.open(url)  # several processes migrate a new file at once
for i in range(count):
    log.record(Decision(consent_id=f"{name}-{i}", decided_at=datetime.now(timezone.utc), action="accept_all",
                        categories=("necessary",), offered=("necessary",), region=None, rule="opt_in", gpc=False,
                        policy_version=1, container_version="x", banner_texts={"title": name[-1]}, language="en",
                        ip="192.0.2.1", user_agent=None))
log.close()
"""


def test_several_processes_write_one_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    start = time.time() + 1.0
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, url, f"p{n}", "25", str(start)], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for n in range(3)]
    for process in processes:
        assert process.wait(timeout=60) == 0, process.stderr.read()
    with ConsentLog.open(url) as log:
        records = list(log.records())
        assert [r.seq for r in records] == list(range(1, 76))
        assert len({r.consent_id for r in records}) == 75
        assert len(log.banner_text_versions()) == 3
        assert log.verify().ok


def test_sqlite_is_wal_with_full_sync_by_default(tmp_path, monkeypatch, make_decision) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with ConsentLog.open() as log:
        log.record(make_decision())
        with log._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    assert (tmp_path / "tag-gateway.sqlite3").is_file()
    assert "tag-gateway.sqlite3" in (ROOT / ".gitignore").read_text().splitlines()


def test_open_creates_or_migrates_to_head_and_can_reopen(database_url, make_decision) -> None:
    with ConsentLog.open(database_url) as log:
        log.record(make_decision())
    with ConsentLog.open(database_url) as log:
        assert log.verify().ok and log.verify().checked == 1
    assert raw(database_url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]


def test_a_schema_from_a_newer_gateway_is_refused_clearly(database_url) -> None:
    ConsentLog.open(database_url).close()
    raw(database_url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(LogUnavailable, match="cannot migrate the consent log: .*9999.*newer gateway"):
        ConsentLog.open(database_url)


def test_sqlite_that_cannot_be_opened_is_unavailable(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(LogUnavailable, match="unable to open database file"):
        ConsentLog.open(f"sqlite:///{blocker / 'consents.sqlite3'}")
    with pytest.raises(LogUnavailable, match="is a directory"):
        ConsentLog.open(f"sqlite:///{tmp_path}")
    with pytest.raises(LogUnavailable, match="no consent log at"):
        ConsentLog.open(f"sqlite:///{tmp_path / 'missing.sqlite3'}", create=False)


def test_sqlite_that_cannot_take_the_write_is_unavailable_and_loses_nothing(tmp_path, make_decision) -> None:
    path = tmp_path / "consents.sqlite3"
    with ConsentLog.open(f"sqlite:///{path}", busy_timeout=0.2) as log:
        log.record(make_decision(consent_id="before"))
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another writer that never lets go
        started = time.perf_counter()
        with pytest.raises(LogUnavailable, match="cannot record the decision: database is locked"):
            log.record(make_decision(consent_id="refused"))
        assert time.perf_counter() - started < 2
        blocker.execute("ROLLBACK")
        blocker.close()
        log.record(make_decision(consent_id="after"))
        assert [(r.seq, r.consent_id) for r in log.records()] == [(1, "before"), (2, "after")]
        assert log.verify().ok


def test_a_stopped_postgres_is_unavailable_and_the_log_recovers(postgres_server, postgres_url, make_decision) -> None:
    with ConsentLog.open(postgres_url) as log:
        log.record(make_decision(consent_id="before"))
        postgres_server.stop()
        try:
            with pytest.raises(LogUnavailable, match="cannot record the decision"):
                log.record(make_decision(consent_id="refused"))
            with pytest.raises(LogUnavailable):
                log.verify()
        finally:
            postgres_server.start()
        log.record(make_decision(consent_id="after"))
        assert [(r.seq, r.consent_id) for r in log.records()] == [(1, "before"), (2, "after")]
        assert log.verify().ok


def test_postgres_urls_as_platforms_hand_them_out(postgres_server, postgres_url, make_decision) -> None:
    as_heroku = postgres_url.replace("postgresql://", "postgres://", 1)
    with ConsentLog.open(as_heroku) as log:
        log.record(make_decision(consent_id="via-postgres-scheme"))
        assert log.url.startswith("postgresql+psycopg://")
    with ConsentLog.open(postgres_url) as log:
        assert [r.consent_id for r in log.records()] == ["via-postgres-scheme"]
    assert str(database.resolve_url("postgres://u:p@h:5432/d")) == "postgresql+psycopg://u:***@h:5432/d"
    assert database.resolve_url("postgresql+psycopg2://u@h/d").drivername == "postgresql+psycopg2"
    with pytest.raises(LogUnavailable, match="supports sqlite:// and postgresql://"):
        database.resolve_url("mysql://u@h/d")
    with pytest.raises(LogUnavailable, match="not a database URL"):
        database.resolve_url("not a url")
    with pytest.raises(LogUnavailable, match="in-memory SQLite database keeps no proof"):
        database.resolve_url("sqlite://")


def test_an_unreachable_postgres_is_unavailable_at_open() -> None:
    import postgres

    port = postgres.free_port()
    with pytest.raises(LogUnavailable, match=f"postgresql\\+psycopg://u:\\*\\*\\*@127.0.0.1:{port}/d: .*refused"):
        ConsentLog.open(f"postgres://u:secret@127.0.0.1:{port}/d")


# -- the site of each record (migration 0003, chain format 2) --------------------------------------

# A record as every gateway before 0003 hashed it (chain format 1), and its hash, computed then: the
# canonical form of a record without a site must never change, or old logs stop verifying.
FORMAT_1_ROW = dict(seq=1, consent_id="old-1", decided_at=datetime(2026, 10, 1, 8, 0, 0, 250000, tzinfo=timezone.utc),
                    action="accept_all", categories=["necessary", "analytics"], offered=["necessary", "analytics"],
                    region="DE", rule="opt_in", gpc=False, policy_version=1, container_version="c-old",
                    banner_texts_hash="ab" * 32, language="en", personal_digest="cd" * 32)
FORMAT_1_HASH = "c1bf90deead345a92bb68cf38ef79ba0faa28927c7b432e19d70144e6d9c72ae"


def format_1_hash(prev_hash: str, row: dict) -> str:
    """chain.record_hash as it was before 0003, kept here so the old form is checked against a copy."""
    import hashlib
    import json

    fields = {"format": 1, **{key: row[key] for key in (
        "seq", "consent_id", "action", "region", "rule", "gpc", "policy_version", "container_version",
        "banner_texts_hash", "language", "personal_digest")}, "categories": list(row["categories"]),
        "offered": list(row["offered"]), "decided_at": row["decided_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def write_log_before_sites(url: str, count: int = 3) -> str:
    """A log as a gateway before 0003 left it: the schema at 0002 (no `site` column) and `count` records
    chained in format 1, written with the columns of then. Returns the chain head's hash."""
    from sqlalchemy import inspect, insert, update

    from gateway.store import chain
    from gateway.store.schema import GENESIS, banner_texts, chain_state, consent_records

    migrate_to(url, "0002")
    engine = database.create(database.resolve_url(url))
    try:
        texts = chain.texts_json({"title": "Before sites", "accept_all": "OK"})
        with engine.begin() as connection:
            assert "site" not in {c["name"] for c in inspect(connection).get_columns("consent_records")}
            connection.execute(insert(banner_texts).values(hash=chain.sha256(texts), texts=texts, first_seen=NOW))
            prev = GENESIS
            for seq in range(1, count + 1):
                salt = chain.new_salt()
                row = dict(seq=seq, consent_id=f"old-{seq}", decided_at=NOW - timedelta(days=count + 1 - seq),
                           action="accept_all", categories=["necessary", "analytics"],
                           offered=["necessary", "analytics"], region="DE", rule="opt_in", gpc=False,
                           policy_version=1, container_version="c-old", banner_texts_hash=chain.sha256(texts),
                           language="en", ip_prefix="203.0.113.0/24", user_agent="Old/1", personal_salt=salt,
                           personal_digest=chain.personal_digest(salt, "203.0.113.0/24", "Old/1"), erased_at=None,
                           prev_hash=prev)
                row["record_hash"] = prev = format_1_hash(prev, row)
                connection.execute(insert(consent_records).values(**row))  # no `site`: the columns of 0002
            connection.execute(update(chain_state).where(chain_state.c.id == 1).values(head_seq=count, head_hash=prev))
    finally:
        engine.dispose()
    assert raw(url, "SELECT version_num FROM alembic_version") == [("0002",)]
    return prev


def test_the_canonical_form_of_a_record_without_a_site_is_unchanged() -> None:
    from gateway.store import chain

    assert format_1_hash("0" * 64, FORMAT_1_ROW) == FORMAT_1_HASH
    assert chain.record_hash("0" * 64, FORMAT_1_ROW) == FORMAT_1_HASH               # an old row, or an old export
    assert chain.record_hash("0" * 64, {**FORMAT_1_ROW, "site": None}) == FORMAT_1_HASH
    with_site = chain.chained_fields({**FORMAT_1_ROW, "site": "shoes"})
    assert (with_site["format"], with_site["site"]) == (chain.FORMAT, "shoes") == (2, "shoes")
    assert chain.record_hash("0" * 64, {**FORMAT_1_ROW, "site": "shoes"}) != FORMAT_1_HASH
    assert chain.record_hash("0" * 64, {**FORMAT_1_ROW, "site": "hats"}) != chain.record_hash(
        "0" * 64, {**FORMAT_1_ROW, "site": "shoes"})


_AWKWARD = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ['"seq":0', '","seq":0,"', '\\"seq\\":0', "0", "seq"])


@settings(max_examples=300, deadline=None)
@given(consent_id=_AWKWARD, container_version=_AWKWARD, language=_AWKWARD, site=st.none() | _AWKWARD,
       categories=st.lists(_AWKWARD, max_size=3), vendors_refused=st.none() | st.lists(_AWKWARD, max_size=3),
       vendors_offered=st.none() | st.lists(_AWKWARD, max_size=3), seq=st.integers(1, 2**62))
def test_a_hash_prepared_before_its_place_is_known_is_the_records_hash(seq, **fields) -> None:
    # The committer hashes a record with its canonical form built earlier (chain.PendingHash), outside
    # the write lock: it must be what verify recomputes, whatever the values hold.
    from gateway.store import chain

    row = {**FORMAT_1_ROW, **fields}
    assert chain.PendingHash(row)("ef" * 32, seq) == chain.record_hash("ef" * 32, {**row, "seq": seq})


def test_a_decision_names_at_most_one_site_of_64_characters(make_decision) -> None:
    assert make_decision().site is None and make_decision(site="s" * 64).site == "s" * 64
    for bad in ("", "s" * 65, 7):
        with pytest.raises(ValueError, match="site must be None or a string of 1 to 64 characters"):
            make_decision(site=bad)


def test_each_record_keeps_its_site_and_the_chain_covers_it(log, database_url, make_decision) -> None:
    shoes = log.record(make_decision(consent_id="s1", site="shoes"))
    hats = log.record(make_decision(consent_id="h1", site="hats"))
    unnamed = log.record(make_decision(consent_id="n1"))
    longest = log.record(make_decision(consent_id="l1", site="x" * 64))
    assert (shoes.site, hats.site, unnamed.site, longest.site) == ("shoes", "hats", None, "x" * 64)
    assert list(log.records()) == [shoes, hats, unnamed, longest]
    assert [r.consent_id for r in log.records(site="hats")] == ["h1"]
    assert raw(database_url, "SELECT seq, site FROM consent_records ORDER BY seq") == [
        (1, "shoes"), (2, "hats"), (3, None), (4, "x" * 64)]
    assert log.verify().ok and log.verify().checked == 4

    # Moving a record to another site, out of its site, or into one is an edit like any other.
    for seq, value in [(1, "hats"), (1, None), (3, "shoes")]:
        before = raw(database_url, "SELECT site FROM consent_records WHERE seq = :s", s=seq)[0][0]
        raw(database_url, "UPDATE consent_records SET site = :v WHERE seq = :s", v=value, s=seq)
        check = log.verify()
        assert (check.broken_seq, check.problem) == (seq, "its content was edited"), (seq, value)
        raw(database_url, "UPDATE consent_records SET site = :v WHERE seq = :s", v=before, s=seq)
    assert log.verify().ok


def test_a_log_from_before_sites_is_upgraded_verifies_and_new_records_chain_after_it(database_url,
                                                                                        make_decision) -> None:
    old_head = write_log_before_sites(database_url, 3)
    with ConsentLog.open(database_url) as log:  # migrates 0002 -> head, as `gateway serve` does at start
        assert raw(database_url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]
        check = log.verify()
        assert check.ok and check.checked == 3 and check.head_hash == old_head
        old = list(log.records())
        assert [(r.consent_id, r.site) for r in old] == [("old-1", None), ("old-2", None), ("old-3", None)]
        new = [log.record(make_decision(consent_id="new-1", site="shoes")),
               log.record(make_decision(consent_id="new-2", site="hats"))]
        assert new[0].seq == 4 and new[0].prev_hash == old_head and new[1].prev_hash == new[0].record_hash
        check = log.verify()
        assert check.ok and check.checked == 5 and check.head_hash == new[1].record_hash
        assert list(log.records())[:3] == old  # nothing of the old records changed
        # Erasure and purge keep working across both formats.
        assert log.erase("old-2") == 1 and log.erase("new-1") == 1
        assert log.verify().ok
        assert log.purge(1, now=NOW).deleted == 2
        assert log.verify().ok and [r.consent_id for r in log.records()] == ["old-3", "new-1", "new-2"]


def test_0007_drops_only_the_unique_index_on_record_hash_and_keeps_the_records(database_url) -> None:
    from sqlalchemy import inspect

    def shape() -> tuple[list, list, list]:
        engine = create_engine(database.resolve_url(database_url))
        try:
            seen = inspect(engine)
            return ([c["column_names"] for c in seen.get_unique_constraints("consent_records")],
                    sorted(i["column_names"] for i in seen.get_indexes("consent_records") if not i["unique"]),
                    [f["referred_table"] for f in seen.get_foreign_keys("consent_records")])
        finally:
            engine.dispose()

    old_head = write_log_before_sites(database_url, 4)
    migrate_to(database_url, "0006")
    assert shape() == ([["record_hash"]], [["consent_id"], ["decided_at"]], ["banner_texts"])
    before = raw(database_url, "SELECT * FROM consent_records ORDER BY seq")
    migrate_to(database_url, "0007")
    assert shape() == ([], [["consent_id"], ["decided_at"]], ["banner_texts"])
    assert raw(database_url, "SELECT * FROM consent_records ORDER BY seq") == before
    with ConsentLog.open(database_url) as log:
        check = log.verify()
        assert check.ok and check.checked == 4 and check.head_hash == old_head
    migrate_to(database_url, "0006", down=True)  # and back: the index again, the records as they were
    assert shape()[0] == [["record_hash"]]
    assert raw(database_url, "SELECT * FROM consent_records ORDER BY seq") == before


def test_0008_makes_seq_sqlites_rowid_and_keeps_the_records(database_url, make_decision) -> None:
    sqlite = database_url.startswith("sqlite")

    def keys() -> tuple[list, list]:
        """(the automatic indexes SQLite made for consent_records' keys, by name; the type declared for seq)"""
        if not sqlite:
            declared = raw(database_url, "SELECT data_type FROM information_schema.columns "
                                         "WHERE table_name = 'consent_records' AND column_name = 'seq'")
            return [], [row[0] for row in declared]
        automatic = [row[0] for row in raw(database_url, "SELECT name FROM sqlite_master WHERE type = 'index' "
                                                         "AND tbl_name = 'consent_records' AND sql IS NULL")]
        return automatic, [row[2] for row in raw(database_url, "PRAGMA table_info(consent_records)") if row[1] == "seq"]

    at_0007 = (["sqlite_autoindex_consent_records_1"], ["BIGINT"]) if sqlite else ([], ["bigint"])
    at_0008 = ([], ["INTEGER"]) if sqlite else at_0007  # SQLite: seq is the rowid, no key beside it; PostgreSQL: as it was
    old_head = write_log_before_sites(database_url, 4)
    migrate_to(database_url, "0007")
    before = raw(database_url, "SELECT * FROM consent_records ORDER BY seq")
    assert keys() == at_0007
    migrate_to(database_url, "0008")
    assert keys() == at_0008
    assert raw(database_url, "SELECT * FROM consent_records ORDER BY seq") == before
    with ConsentLog.open(database_url) as log:
        check = log.verify()
        assert check.ok and check.checked == 4 and check.head_hash == old_head
        added = log.record(make_decision(consent_id="after-0008", site="shoes"))
        assert added.seq == 5 and added.prev_hash == old_head and log.verify().ok
    stored = raw(database_url, "SELECT * FROM consent_records ORDER BY seq")
    migrate_to(database_url, "0007", down=True)  # and back: the separate key again, the records as they were
    assert keys() == at_0007
    assert raw(database_url, "SELECT * FROM consent_records ORDER BY seq") == stored


def test_downgrading_below_0003_refuses_to_drop_named_sites(database_url, make_decision) -> None:
    def downgrade() -> None:
        migrate_to(database_url, "0002", down=True)

    write_log_before_sites(database_url, 2)
    ConsentLog.open(database_url).close()
    downgrade()  # only old records: nothing to lose
    assert raw(database_url, "SELECT version_num FROM alembic_version") == [("0002",)]
    assert raw(database_url, "SELECT count(*) FROM consent_records") == [(2,)]
    with ConsentLog.open(database_url) as log:
        assert log.verify().ok
        log.record(make_decision(consent_id="named", site="shoes"))
    with pytest.raises(RuntimeError, match="not downgrading below 0003: records from 3 on name their site"):
        downgrade()
    with ConsentLog.open(database_url) as log:
        assert log.verify().ok and [r.site for r in log.records()] == [None, None, "shoes"]

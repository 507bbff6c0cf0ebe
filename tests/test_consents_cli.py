"""`gateway consents export|show|stats|purge|erase|verify` on SQLite and PostgreSQL, as an operator runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.cli import build_parser, main
from gateway.store import DEFAULT_RETENTION_DAYS, ConsentLog, chain, database
from gateway.store.export import FIELDS

ROOT = Path(__file__).resolve().parent.parent
# Today's midnight, and its second record a second later: both in the past whenever the suite runs (after
# the day's first second) and on today's date, as `stats --days 1` expects. (Noon failed `purge --older-than 0`
# every morning.)
TODAY = datetime.combine(datetime.now(timezone.utc).date(), time(0), tzinfo=timezone.utc)
LATER_TODAY = TODAY + timedelta(seconds=1)
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def filled(database_url, monkeypatch, make_decision) -> str:
    """A log with four decisions over two days on two sites; DATABASE_URL points at it."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    german = {"title": "Ihre Datenschutz-Einstellungen", "text": "Wir verwenden Cookies, \"Tracking\", usw."}
    with ConsentLog.open(database_url) as log:
        log.record(make_decision(consent_id="alice", decided_at=YESTERDAY, action="accept_all", site="shoes"))
        log.record(make_decision(consent_id="bob", decided_at=YESTERDAY + timedelta(hours=1), action="reject_all",
                                 categories=("necessary",), banner_texts=german, language="de",
                                 ip="2001:db8:1:2::3", site="hats"))
        log.record(make_decision(consent_id="carol", decided_at=TODAY, action="custom",
                                 categories=("necessary", "analytics"), site="shoes"))
        log.record(make_decision(consent_id="alice", decided_at=LATER_TODAY, action="opt_out_link",
                                 categories=("necessary", "analytics"), region="US-CA", rule="opt_out", gpc=True,
                                 ip=None, user_agent=None, site="shoes"))
    return database_url


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["consents", *args])
    out, err = capsys.readouterr()
    return code, out, err


def tamper(url: str, sql: str) -> None:
    engine = create_engine(database.resolve_url(url))
    with engine.begin() as connection:
        connection.execute(text(sql))
    engine.dispose()


def test_export_jsonl_has_every_field_and_the_texts(filled, capsys) -> None:
    code, out, err = run(capsys, "export")
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["consent_id"] for r in rows] == ["alice", "bob", "carol", "alice"]
    assert [r["site"] for r in rows] == ["shoes", "hats", "shoes", "shoes"]
    assert all(list(r) == FIELDS for r in rows)
    bob = rows[1]
    assert bob["seq"] == 2 and bob["decided_at"] == (YESTERDAY + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert (bob["action"], bob["categories"], bob["offered"]) == ("reject_all", ["necessary"],
                                                                  ["necessary", "analytics", "marketing"])
    assert (bob["region"], bob["rule"], bob["gpc"], bob["policy_version"]) == ("DE", "opt_in", False, 1)
    assert (bob["container_version"], bob["language"], bob["ip_prefix"]) == ('"c-1a2b3c"', "de", "2001:db8:1::/48")
    assert bob["banner_texts"]["text"] == "Wir verwenden Cookies, \"Tracking\", usw."
    assert (bob["erased"], bob["erased_at"], bob["prev_hash"]) == (False, None, rows[0]["record_hash"])
    last = rows[3]
    assert (last["rule"], last["gpc"], last["ip_prefix"], last["user_agent"]) == ("opt_out", True, None, None)
    assert "203.0.113.77" not in out
    # An export alone is enough to recompute the chain.
    for row in rows:
        decided = datetime.strptime(row["decided_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert chain.record_hash(row["prev_hash"], {**row, "decided_at": decided}) == row["record_hash"]

    code, out, _ = run(capsys, "export", "--since", TODAY.date().isoformat())
    assert code == 0 and [json.loads(line)["consent_id"] for line in out.splitlines()] == ["carol", "alice"]
    code, out, _ = run(capsys, "export", "--site", "hats")
    assert code == 0 and [(r["seq"], r["site"]) for r in map(json.loads, out.splitlines())] == [(2, "hats")]
    code, out, _ = run(capsys, "export", "--site", "shoes", "--since", TODAY.date().isoformat())
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [3, 4]
    assert run(capsys, "export", "--site", "nobody")[:2] == (0, "")


def test_export_csv(filled, capsys) -> None:
    code, out, _ = run(capsys, "export", "--format", "csv", "--since", YESTERDAY.isoformat())
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == FIELDS and len(rows) == 4
    assert rows[0]["categories"] == "necessary analytics marketing" and rows[1]["categories"] == "necessary"
    assert (rows[0]["gpc"], rows[3]["gpc"], rows[0]["erased"], rows[0]["erased_at"]) == ("false", "true", "false", "")
    assert rows[0]["ip_prefix"] == "203.0.113.0/24" and rows[3]["ip_prefix"] == ""
    assert json.loads(rows[1]["banner_texts"])["title"] == "Ihre Datenschutz-Einstellungen"
    assert rows[0]["container_version"] == '"c-1a2b3c"'
    assert [r["site"] for r in rows] == ["shoes", "hats", "shoes", "shoes"]
    code, out, _ = run(capsys, "export", "--format", "csv", "--site", "hats")
    assert [r["consent_id"] for r in csv.DictReader(io.StringIO(out))] == ["bob"]


def test_show_prints_every_record_of_one_id(filled, capsys) -> None:
    code, out, _ = run(capsys, "show", "alice")
    assert code == 0
    assert out.startswith("consent id alice: 2 records (times in UTC)")
    assert f"record 1  {YESTERDAY:%Y-%m-%d %H:%M:%S}  accept_all\n  site          shoes\n" in out
    assert f"record 4  {LATER_TODAY:%Y-%m-%d %H:%M:%S}  opt_out_link" in out
    assert "region        US-CA, opt-out rule; Global Privacy Control: yes" in out
    assert "IP prefix     203.0.113.0/24" in out and "IP prefix     (unknown)" in out
    assert "  title: Your privacy choices" in out and out.count("banner texts ") == 3  # 2 records, 1 version
    assert "carol" not in out and "bob" not in out


def test_stats_prints_decisions_and_opt_in_rates_per_day_per_site(filled, capsys) -> None:
    code, out, _ = run(capsys, "stats", "--days", "7")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Consent decisions in the last 7 days (UTC); opt-in rate per category"
    assert lines[1:3] == ["", "site hats"]
    assert lines[3].split() == ["day", "decisions", "analytics", "marketing"]
    assert lines[5].split() == [YESTERDAY.date().isoformat(), "1", "0.0%", "0.0%"]
    assert lines[7].split() == ["total", "1", "0.0%", "0.0%"]
    assert lines[8:10] == ["", "site shoes"]
    assert lines[12].split() == [YESTERDAY.date().isoformat(), "1", "100.0%", "100.0%"]
    assert lines[13].split() == [TODAY.date().isoformat(), "2", "100.0%", "0.0%"]
    assert lines[15].split() == ["total", "3", "100.0%", "33.3%"]
    assert lines[16:] == ["", "all 2 sites: 4 decisions"]
    code, out, _ = run(capsys, "stats", "--days", "1")
    assert out.splitlines()[2:] == ["site shoes", *out.splitlines()[3:]] and "hats" not in out
    assert out.splitlines()[-1].split() == ["total", "2", "100.0%", "0.0%"]
    code, out, _ = run(capsys, "stats", "--site", "hats")
    assert out.splitlines()[0].endswith("per category, site hats") and "shoes" not in out
    assert out.splitlines()[-1].split() == ["total", "1", "0.0%", "0.0%"]
    assert run(capsys, "stats", "--site", "nobody")[1].splitlines()[1] == "no decisions"


def test_verify_then_a_tampered_record(filled, capsys) -> None:
    code, out, _ = run(capsys, "verify")
    assert code == 0 and out.startswith("OK: the chain is intact (4 records, 1..4); head hash ")
    tamper(filled, "UPDATE consent_records SET action = 'accept_all' WHERE seq = 2")
    code, out, err = run(capsys, "verify")
    assert code == 1 and out == ""
    assert err == "BROKEN at record 2 (consent id bob): its content was edited\n"


def test_verify_names_a_deleted_record(filled, capsys) -> None:
    tamper(filled, "DELETE FROM consent_records WHERE seq = 3")
    code, _, err = run(capsys, "verify")
    assert code == 1 and err == "BROKEN at record 3: record 3 is missing (deleted) before record 4\n"


def test_erase_then_verify(filled, capsys) -> None:
    code, out, _ = run(capsys, "erase", "alice")
    assert code == 0 and out == "erased the IP prefix and user agent of 2 records of alice\n"
    assert run(capsys, "verify")[0] == 0
    rows = [json.loads(line) for line in run(capsys, "export")[1].splitlines()]
    alice = [r for r in rows if r["consent_id"] == "alice"]
    assert all(r["erased"] and r["erased_at"] and r["ip_prefix"] is None and r["user_agent"] is None for r in alice)
    assert all(r["ip_prefix"] and not r["erased"] for r in rows if r["consent_id"] != "alice")
    assert "(erased " in run(capsys, "show", "alice")[1]
    assert run(capsys, "erase", "alice")[1] == "alice: already erased\n"


def test_purge_then_verify(filled, capsys) -> None:
    code, out, _ = run(capsys, "purge", "--older-than", "0")
    assert code == 0 and out.startswith("purged 4 records decided before ")
    assert out.rstrip().endswith("the chain now starts after record 4")
    code, out, _ = run(capsys, "verify")
    assert code == 0 and "no records; records 1..4 purged" in out
    assert run(capsys, "export")[1] == ""


def test_purge_defaults_to_the_documented_retention(filled, capsys) -> None:
    assert DEFAULT_RETENTION_DAYS == 1095
    code, out, _ = run(capsys, "purge")
    assert code == 0 and out.startswith("purged 0 records decided before ")
    purge = build_parser()._subparsers._group_actions[0].choices["consents"]._subparsers._group_actions[0].choices["purge"]
    assert "default 1095, i.e. 3 years" in purge.format_help() and "13 months" in purge.format_help()


def test_unknown_id_is_one_clean_line(filled, capsys) -> None:
    for action in ("show", "erase"):
        code, out, err = run(capsys, action, "nobody")
        assert (code, out, err) == (2, "", "tag-gateway: no consent record has the id 'nobody'\n")


def test_errors_are_one_line_without_a_traceback(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, _, err = run(capsys, "stats")
    assert code == 2 and err == "tag-gateway: no consent log at tag-gateway.sqlite3 (set DATABASE_URL to use another)\n"
    assert not (tmp_path / "tag-gateway.sqlite3").exists()  # reading never creates a database
    monkeypatch.setenv("DATABASE_URL", "nonsense")
    code, _, err = run(capsys, "export")
    assert code == 2 and err.count("\n") == 1 and "DATABASE_URL: 'nonsense' is not a database URL" in err

    env = {**os.environ, "DATABASE_URL": "postgres://someone:hunter2@127.0.0.1:1/consents"}
    result = subprocess.run([sys.executable, "-m", "gateway", "consents", "verify"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("tag-gateway: postgresql+psycopg://someone:***@127.0.0.1:1/consents: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_export_rejects_a_bad_date(filled, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["consents", "export", "--since", "yesterday"])
    assert exit_.value.code == 2
    assert "'yesterday' is not a date (YYYY-MM-DD) or an ISO time" in capsys.readouterr().err


def operator(url: str, *args: str) -> subprocess.CompletedProcess:
    """`gateway consents ARGS` as an operator runs it: the installed command, DATABASE_URL in its environment."""
    return subprocess.run([str(ROOT / ".venv" / "bin" / "gateway"), "consents", *args], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, DATABASE_URL=url), timeout=60)


def test_a_log_from_before_sites_verifies_with_the_cli_after_the_upgrade(database_url, make_decision, monkeypatch,
                                                                         capsys) -> None:
    from test_consent_log import write_log_before_sites

    old_head = write_log_before_sites(database_url, 3)
    first = operator(database_url, "verify")  # the first command after the upgrade migrates the schema
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"OK: the chain is intact (3 records, 1..3); head hash {old_head}\n"
    with ConsentLog.open(database_url) as log:
        log.record(make_decision(consent_id="new-shoes", site="shoes"))
        log.record(make_decision(consent_id="new-default", site="default"))
    checked = operator(database_url, "verify")
    assert checked.returncode == 0 and checked.stdout.startswith("OK: the chain is intact (5 records, 1..5)")

    monkeypatch.setenv("DATABASE_URL", database_url)
    exported = [json.loads(line) for line in run(capsys, "export")[1].splitlines()]
    assert [(r["seq"], r["site"]) for r in exported] == [(1, None), (2, None), (3, None), (4, "shoes"),
                                                         (5, "default")]
    assert exported[3]["prev_hash"] == old_head
    for row in exported:  # the export alone still recomputes both formats
        decided = datetime.strptime(row["decided_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert chain.record_hash(row["prev_hash"], {**row, "decided_at": decided}) == row["record_hash"]
    stats = run(capsys, "stats")[1].splitlines()
    assert stats.index("site default") < stats.index("site shoes") < stats.index("site (not recorded)")
    assert stats[-1] == "all 3 sites: 5 decisions"
    assert "  site          (not recorded)\n" in run(capsys, "show", "old-1")[1]

    tamper(database_url, "UPDATE consent_records SET site = 'hats' WHERE seq = 4")
    broken = operator(database_url, "verify")
    assert broken.returncode == 1
    assert broken.stderr == "BROKEN at record 4 (consent id new-shoes): its content was edited\n"
    tamper(database_url, "UPDATE consent_records SET site = 'shoes' WHERE seq = 1")
    tamper(database_url, "UPDATE consent_records SET site = 'shoes' WHERE seq = 4")
    code, _, err = run(capsys, "verify")
    assert code == 1 and err == "BROKEN at record 1 (consent id old-1): its content was edited\n"

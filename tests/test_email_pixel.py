"""The e-mail open pixel (gateway/email_pixel.py, gateway/store/email_opens.py), on SQLite and PostgreSQL.

Whatever the token, `GET /e/<campaign>.gif` answers the same transparent GIF; only a valid token of
that campaign whose recipient agreed counts, once per recipient however often it is reloaded; a
database that fails never turns into a 500 or a traceback. Tokens come from POST /email/tokens and
`gateway email token`, stats from GET /email/stats and `gateway email stats`, both as operators use them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from conftest import ROOT
from gateway.app import ADMIN_TOKEN_ENV, create_app
from gateway.consent import ConsentSigner
from gateway.email_pixel import GIF, EmailTokens
from gateway.store import ConsentLog, database, migrate

SECRET = secrets.token_hex(32)       # one the CLI accepts too (conftest's is too repetitive for it)
OLD_SECRET = secrets.token_hex(32)
ADMIN = "email-admin-" + secrets.token_hex(16)
AUTH = {"Authorization": f"Bearer {ADMIN}"}
JSON = {"Content-Type": "application/json"}
GIF_HEADERS = {"content-type": "image/gif", "cache-control": "no-store, private", "x-content-type-options": "nosniff",
               "content-length": "43"}


def raw(url: str, sql: str):
    engine = create_engine(database.resolve_url(url))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql))
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


@pytest.fixture
def log(database_url):
    with ConsentLog.open(database_url) as opened:
        yield opened


def pixel_of(app):
    """The app's EmailPixel (to wait for its writer)."""
    route = next(r for r in app.routes if getattr(r, "path", None) == "/e/{file:path}")
    return route.endpoint.__self__


@pytest.fixture
def gateway(live, log, monkeypatch):
    monkeypatch.setenv(ADMIN_TOKEN_ENV, ADMIN)
    app = create_app(live, (SECRET, OLD_SECRET), log, watch=False)
    with TestClient(app, base_url="http://gateway.test") as client:
        client.pixel = pixel_of(app)
        yield client


def mint(client, campaign: str, *recipients: tuple[str, bool], **extra) -> list[dict]:
    body = {"campaign": campaign, "recipients": [{"id": r, "opens_allowed": a} for r, a in recipients], **extra}
    response = client.post("/email/tokens", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["tokens"]


def opened(client, path: str, times: int = 1, **headers) -> None:
    for _ in range(times):
        response = client.get(path, headers=headers)
        assert response.status_code == 200 and response.content == GIF
        assert {k: response.headers.get(k) for k in GIF_HEADERS} == GIF_HEADERS
        assert "set-cookie" not in response.headers


def stats(client, campaign: str | None = None) -> list[dict]:
    client.pixel.recorder.flush()
    response = client.get("/email/stats", params={"campaign": campaign} if campaign else None, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["campaigns"]


# -- tokens ------------------------------------------------------------------------------------------

def test_token_round_trip_and_key_rotation() -> None:
    old = EmailTokens(OLD_SECRET)
    token, pseudonym = old.issue("spring-2026", "alice@example.com", True)
    assert "alice" not in token and "example.com" not in token
    rotated = EmailTokens([SECRET, OLD_SECRET])
    read = rotated.read(token)
    assert (read.campaign, read.opens_allowed, read.recipient) == ("spring-2026", True, pseudonym)
    assert rotated.counts("spring-2026", token) == pseudonym and rotated.counts("autumn", token) is None
    # New tokens are signed with the newest secret: a gateway that only has the old one refuses them.
    new_token, _ = rotated.issue("spring-2026", "alice@example.com", True)
    assert EmailTokens(SECRET).read(new_token) is not None and old.read(new_token) is None
    # Pseudonyms: stable, 128 bits of hex, per campaign (campaigns cannot be joined on them).
    assert len(pseudonym) == 32 and pseudonym == old.pseudonym("spring-2026", "alice@example.com")
    assert old.pseudonym("autumn", "alice@example.com") != pseudonym
    # A recipient who did not agree: the mail carries no identifier of them at all.
    refused_a, none_a = rotated.issue("spring-2026", "alice@example.com", False)
    refused_b, none_b = rotated.issue("spring-2026", "bob@example.com", False)
    assert none_a is none_b is None and refused_a == refused_b
    assert rotated.read(refused_a).opens_allowed is False and rotated.counts("spring-2026", refused_a) is None
    with pytest.raises(ValueError):
        rotated.issue("../x", "alice", True)


def test_a_consent_token_is_no_email_token_and_the_other_way_round(live) -> None:
    signer = ConsentSigner(SECRET)
    consent_token, _ = signer.issue(("necessary",), 1)
    tokens = EmailTokens(SECRET)
    assert tokens.read(consent_token) is None
    email_token, _ = tokens.issue("spring", "alice", True)
    site = live.current.config.site
    assert signer.read(email_token, policy_version=1, known_categories=("necessary",), max_age=3600,
                       site=site).consent is None
    # Same secret, same payload, another salt: refused.
    other_salt = URLSafeSerializer(SECRET, salt="tag-gateway.consent.v1").dumps({"c": "spring", "o": 1, "r": "0" * 32})
    assert tokens.read(other_salt) is None


# -- the pixel ---------------------------------------------------------------------------------------

def test_a_valid_open_counts_once_per_recipient_however_often_it_is_reloaded(gateway, database_url) -> None:
    alice, bob, carol = mint(gateway, "spring", ("alice@example.com", True), ("bob@example.com", True),
                             ("carol@example.com", False))
    assert alice["path"] == f"/e/spring.gif?t={alice['token']}" and "url" not in alice
    assert stats(gateway) == [{"campaign": "spring", "recipients_tracked": 2, "unique_opens": 0, "total_opens": 0,
                               "first_open": None, "last_open": None}]
    opened(gateway, alice["path"], times=300, Cookie="tg_consent=whatever")
    head = gateway.head(alice["path"])  # a link checker: the same headers, not an open
    assert head.status_code == 200 and head.headers["content-type"] == "image/gif"
    opened(gateway, carol["path"], times=5)
    [spring] = stats(gateway)
    assert (spring["recipients_tracked"], spring["unique_opens"], spring["total_opens"]) == (2, 1, 300)
    first = spring["first_open"]
    opened(gateway, alice["path"])
    opened(gateway, bob["path"])
    [spring] = stats(gateway, "spring")
    assert (spring["recipients_tracked"], spring["unique_opens"], spring["total_opens"]) == (2, 2, 302)
    assert spring["first_open"] == first and spring["last_open"] > first
    # Nothing personal in the database: no address, no id; only pseudonyms of those who agreed.
    dump = repr(raw(database_url, "SELECT * FROM email_opens"))
    assert "example.com" not in dump and "alice" not in dump and "carol" not in dump
    assert len(raw(database_url, "SELECT * FROM email_opens")) == 2


def test_forged_tampered_foreign_and_refused_tokens_get_the_same_gif_and_count_nothing(gateway, live) -> None:
    [alice, carol] = mint(gateway, "spring", ("alice@example.com", True), ("carol@example.com", False))
    [autumn] = mint(gateway, "autumn", ("alice@example.com", True))
    payload, signature = alice["token"].rsplit(".", 1)
    consent_token, _ = ConsentSigner(SECRET).issue(("necessary",), 1)
    other_salt = URLSafeSerializer(SECRET, salt="another.salt").dumps({"c": "spring", "o": 1, "r": "0" * 32})
    foreign_secret, _ = EmailTokens(secrets.token_hex(32)).issue("spring", "alice@example.com", True)
    paths = ["/e/spring.gif", "/e/spring.gif?t=", "/e/spring.gif?t=garbage",
             f"/e/spring.gif?t={payload}.{signature[:-2]}AA",                      # tampered signature
             f"/e/spring.gif?t={payload[:-4]}AAAA.{signature}",                    # tampered payload
             f"/e/spring.gif?t={autumn['token']}",                                 # another campaign's
             f"/e/spring.gif?t={carol['token']}",                                  # did not agree
             f"/e/spring.gif?t={consent_token}", f"/e/spring.gif?t={other_salt}",
             f"/e/spring.gif?t={foreign_secret}", "/e/spring.gif?t=" + "A" * 5000,
             f"/e/autumn.gif?t={alice['token']}", f"/e/%00%ff.gif?t={alice['token']}",
             f"/e/{'x' * 300}.gif?t={alice['token']}", f"/e/.gif?t={alice['token']}",
             f"/e/spring/x.gif?t={alice['token']}"]
    answers = []
    for path in paths:
        response = gateway.get(path)
        answers.append((response.status_code, response.content, sorted(response.headers.items())))
        assert "set-cookie" not in response.headers
    assert all(a == answers[0] for a in answers) and answers[0][1] == GIF
    not_a_pixel = gateway.get(f"/e/spring.png?t={alice['token']}")
    assert not_a_pixel.status_code == 404 and not_a_pixel.json()["error"]["code"] == "not_found"
    spring, = [c for c in stats(gateway) if c["campaign"] == "spring"]
    assert (spring["unique_opens"], spring["total_opens"]) == (0, 0)
    assert [c["total_opens"] for c in stats(gateway, "autumn")] == [0]



@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(campaign=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=70).map(lambda c: quote(c, safe="")),
       token=st.one_of(st.text(max_size=200), st.sampled_from(["", ".", "a.b", "e30.x", "eyJjIjoic3ByaW5nIn0.AAAA"])),
       cookie=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
def test_any_campaign_and_token_get_the_gif(gateway, campaign, token, cookie) -> None:
    response = gateway.get(f"/e/{campaign}.gif?t={quote(token, safe='')}", headers={"Cookie": cookie})
    assert (response.status_code, response.content) == (200, GIF) and "set-cookie" not in response.headers

def test_a_database_that_fails_still_gets_the_gif_and_one_log_line(live, database_url, tmp_path, caplog,
                                                                   monkeypatch) -> None:
    """The pixel's database is down (nothing listens / the file cannot be opened): the GIF, no 500, no traceback."""
    if database_url.startswith("sqlite"):
        dead = f"sqlite:///{tmp_path / 'no-such-dir' / 'consents.sqlite3'}"
    else:
        from postgres import free_port
        dead = f"postgresql://postgres@127.0.0.1:{free_port()}/gone"
    engine = database.create(database.resolve_url(dead), busy_timeout=0.5)
    monkeypatch.setenv(ADMIN_TOKEN_ENV, ADMIN)
    # A stand-in for the consent log whose engine is the dead one; it has nothing to open at start.
    log = SimpleNamespace(url=dead, engine=engine, warm_up=lambda: asyncio.sleep(0))
    app = create_app(live, SECRET, log, watch=False)
    token, _ = EmailTokens(SECRET).issue("spring", "alice@example.com", True)
    caplog.set_level(logging.INFO)
    with TestClient(app, base_url="http://gateway.test", raise_server_exceptions=True) as client:
        pixel = pixel_of(app)
        for _ in range(3):
            opened(client, f"/e/spring.gif?t={token}", times=5)
            assert pixel.recorder.flush()
        stats_answer = client.get("/email/stats", headers=AUTH)
        mint_answer = client.post("/email/tokens", headers=AUTH,
                                  json={"campaign": "spring", "recipients": [{"id": "bob", "opens_allowed": True}]})
    engine.dispose()
    for answer in (stats_answer, mint_answer):
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "log_unavailable"
        assert answer.headers["retry-after"] == "5"
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    pixel_errors = [r for r in caplog.records if "e-mail opens not recorded" in r.getMessage()]
    assert len(pixel_errors) == 1 and pixel_errors[0].levelno == logging.ERROR


def test_opens_are_counted_again_when_the_database_is_back(gateway, database_url, caplog) -> None:
    [alice] = mint(gateway, "spring", ("alice@example.com", True))
    raw(database_url, "ALTER TABLE email_opens RENAME TO email_opens_away")
    opened(gateway, alice["path"], times=3)
    assert gateway.pixel.recorder.flush()
    raw(database_url, "ALTER TABLE email_opens_away RENAME TO email_opens")
    opened(gateway, alice["path"])
    [spring] = stats(gateway)
    assert (spring["unique_opens"], spring["total_opens"]) == (1, 1)  # the three during the outage are lost
    assert "recorded again; 3 opens were lost meanwhile" in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


# -- the admin API -----------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("POST", "/email/tokens"), ("GET", "/email/stats")])
def test_the_admin_api_needs_the_admin_token(live, consent_log, monkeypatch, method, path) -> None:
    body = {"campaign": "spring", "recipients": [{"id": "alice", "opens_allowed": True}]}
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    with TestClient(create_app(live, SECRET, consent_log, watch=False)) as client:
        off = client.request(method, path, json=body, headers=AUTH)
    assert off.status_code == 404 and ADMIN_TOKEN_ENV in off.json()["error"]["message"]
    monkeypatch.setenv(ADMIN_TOKEN_ENV, ADMIN)
    with TestClient(create_app(live, SECRET, consent_log, watch=False)) as client:
        for wrong in ({}, {"Authorization": f"Bearer {ADMIN[:-1]}"}, {"Authorization": f"Basic {ADMIN}"},
                      {"Authorization": ADMIN}, {"Authorization": f"Bearer {ADMIN}x"}):
            refused = client.request(method, path, json=body, headers=wrong)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
            assert "token" not in refused.json() and refused.headers["www-authenticate"].startswith("Bearer")
        ok = client.request(method, path, json=body, headers=AUTH)
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    assert ok.headers["x-content-type-options"] == "nosniff"


def test_minting_answers_urls_with_a_base_url(gateway) -> None:
    [alice] = mint(gateway, "spring.2026_b-1", ("alice@example.com", True), base_url="https://tags.shop.example/")
    assert alice["url"] == f"https://tags.shop.example/e/spring.2026_b-1.gif?t={alice['token']}"
    assert alice["id"] == "alice@example.com" and alice["opens_allowed"] is True
    opened(gateway, urlsplit(alice["url"]).path + "?" + urlsplit(alice["url"]).query)
    assert stats(gateway, "spring.2026_b-1")[0]["unique_opens"] == 1
    assert stats(gateway, "nothing-here") == []


@pytest.mark.parametrize("body,content_type,status", [
    (b'{"campaign": "spring", "recipients": [{"id": "a", "opens_allowed": true}]}', "text/plain", 415),
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"campaign": "spring"}', "application/json", 400),
    (b'{"campaign": "../etc", "recipients": [{"id": "a", "opens_allowed": true}]}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": []}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": [{"id": "a"}]}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": [{"id": "a", "opens_allowed": "yes"}]}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": [{"id": 7, "opens_allowed": true}]}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": [{"id": " ", "opens_allowed": true}]}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": [{"id": "a", "opens_allowed": true}], "x": 1}', "application/json", 400),
    (b'{"campaign": "spring", "recipients": [{"id": "a", "opens_allowed": true}], "base_url": "javascript:x"}',
     "application/json", 400),
    (b'{"campaign": "spring", "recipients": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400),
    (b'{"campaign": "spring", "recipients": [' + b'{"id": "a", "opens_allowed": true},' * 10_001 + b"1]}",
     "application/json", 400),
    (b" " * (2 * 1024 * 1024 + 1), "application/json", 413),
])
def test_a_bad_mint_request_is_a_4xx_json_error_and_stores_nothing(gateway, database_url, body, content_type,
                                                                   status) -> None:
    response = gateway.post("/email/tokens", content=body, headers={**AUTH, "Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] and response.headers["cache-control"] == "no-store"
    assert raw(database_url, "SELECT count(*) FROM email_opens") == [(0,)]
    assert gateway.get("/email/stats?campaign=../x", headers=AUTH).status_code == 400


def test_the_migration_adds_the_table_to_an_existing_log(database_url, make_decision) -> None:
    from alembic import command

    engine = database.create(database.resolve_url(database_url))
    with engine.begin() as connection:
        cfg = migrate.config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")  # a log written by the gateway before the pixel existed
    engine.dispose()
    assert raw(database_url, "SELECT version_num FROM alembic_version") == [("0001",)]
    with ConsentLog.open(database_url) as log:
        log.record(make_decision())
        assert log.verify().ok
    assert raw(database_url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]
    assert raw(database_url, "SELECT count(*) FROM email_opens") == [(0,)]


# -- the CLI, as an operator runs it ------------------------------------------------------------------

def gateway_cli(*args: str, cwd, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", "email", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def test_the_cli_mints_tokens_the_pixel_counts_and_prints_stats(live, database_url, tmp_path) -> None:
    env = {**os.environ, "TAG_GATEWAY_SECRET": f"{SECRET},{OLD_SECRET}", "DATABASE_URL": database_url,
           "PYTHONPATH": str(ROOT)}
    made = gateway_cli("token", "--campaign", "spring", "--recipient", "alice@example.com", "--opens-allowed",
                       "--base-url", "https://tags.shop.example", cwd=tmp_path, env=env)
    assert made.returncode == 0 and made.stderr == "", made.stderr
    url = made.stdout.strip()
    assert url.startswith("https://tags.shop.example/e/spring.gif?t=") and "alice" not in url
    refused = gateway_cli("token", "--campaign", "spring", "--recipient", "carol@example.com", "--no-opens",
                          cwd=tmp_path, env=env)
    assert refused.returncode == 0 and "." in refused.stdout and "/" not in refused.stdout

    with ConsentLog.open(database_url) as log, \
            TestClient(app := create_app(live, (SECRET,), log, watch=False)) as client:
        opened(client, urlsplit(url).path + "?" + urlsplit(url).query, times=4)
        opened(client, f"/e/spring.gif?t={refused.stdout.strip()}")
        assert pixel_of(app).recorder.flush()

    table = gateway_cli("stats", cwd=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    header, rule, row = table.stdout.splitlines()
    assert header.split()[:3] == ["campaign", "tracked", "opened"]
    assert row.split()[:6] == ["spring", "1", "1", "100.0%", "4", row.split()[5]]
    as_json = json.loads(gateway_cli("stats", "--campaign", "spring", "--format", "json", cwd=tmp_path, env=env).stdout)
    [spring] = as_json["campaigns"]
    assert (spring["recipients_tracked"], spring["unique_opens"], spring["total_opens"]) == (1, 1, 4)
    none = gateway_cli("stats", "--campaign", "autumn", cwd=tmp_path, env=env)
    assert none.returncode == 0 and none.stdout == "no e-mail opens tracked for campaign autumn\n"


def test_cli_errors_are_one_line(tmp_path, database_url) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TAG_GATEWAY_SECRET", "TAG_GATEWAY_SECRET_FILE")}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=database_url)
    no_secret = gateway_cli("token", "--campaign", "spring", "--recipient", "alice", "--opens-allowed",
                            cwd=tmp_path, env=env)
    assert no_secret.returncode == 2 and no_secret.stdout == "" and no_secret.stderr.count("\n") == 1
    assert "no signing secret" in no_secret.stderr and not (tmp_path / ".tag-gateway-secret").exists()
    env["TAG_GATEWAY_SECRET"] = SECRET
    for args in (["token", "--campaign", "../x", "--recipient", "a", "--no-opens"],
                 ["token", "--campaign", "spring", "--recipient", "a", "--no-opens", "--base-url", "ftp://x"]):
        bad = gateway_cli(*args, cwd=tmp_path, env=env)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    undecided = gateway_cli("token", "--campaign", "spring", "--recipient", "a", cwd=tmp_path, env=env)
    assert undecided.returncode == 2 and "--opens-allowed" in undecided.stderr
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'missing.sqlite3'}"
    missing = gateway_cli("stats", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and missing.stderr.startswith("tag-gateway: no consent log at ")
    assert "Traceback" not in missing.stderr


def test_purge_deletes_whole_campaigns_by_name_or_by_quiet_time(database_url, tmp_path) -> None:
    from datetime import datetime, timedelta, timezone

    from gateway.store import email_opens

    now = datetime.now(timezone.utc)
    with ConsentLog.open(database_url) as log:
        email_opens.register(log.engine, "spring", ["p1", "p2"], now=now - timedelta(days=200))
        email_opens.register(log.engine, "summer", ["p3"], now=now - timedelta(days=200))
        # summer had an open 10 days ago: not quiet, though its tokens are as old as spring's
        email_opens.record(log.engine, {("summer", "p3"): email_opens.Opened(1, now - timedelta(days=10),
                                                                             now - timedelta(days=10))})
        email_opens.register(log.engine, "autumn", ["p4"], now=now - timedelta(days=1))
    env = {**os.environ, "TAG_GATEWAY_SECRET": SECRET, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    quiet = gateway_cli("purge", "--older-than", "90", cwd=tmp_path, env=env)
    assert quiet.returncode == 0 and quiet.stdout == "purged 2 recipients of 1 campaigns: spring\n", quiet.stderr
    left = json.loads(gateway_cli("stats", "--format", "json", cwd=tmp_path, env=env).stdout)["campaigns"]
    assert [c["campaign"] for c in left] == ["autumn", "summer"]
    named = gateway_cli("purge", "--campaign", "summer", cwd=tmp_path, env=env)
    assert named.stdout == "purged 1 recipients of 1 campaigns: summer\n"
    assert gateway_cli("purge", "--campaign", "summer", cwd=tmp_path, env=env).stdout == "nothing to purge\n"
    assert gateway_cli("purge", "--older-than", "0", cwd=tmp_path, env=env).stdout == \
        "purged 1 recipients of 1 campaigns: autumn\n"
    for bad in (["purge"], ["purge", "--campaign", "../x"], ["purge", "--older-than", "-1"],
                ["purge", "--campaign", "a", "--older-than", "3"]):
        refused = gateway_cli(*bad, cwd=tmp_path, env=env)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, bad

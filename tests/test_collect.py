"""Server-side events: the config keys, the consent decision, and POST /collect end to end (outbox rows,
drop counters, answers)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.consent import Consent
from gateway.errors import ConfigError
from gateway.config import load_config
from gateway.forwarding.decide import ACCEPT, DROP, RESTRICTED, decide
from gateway.live_config import LiveConfig
from gateway.store.schema import event_drops, event_outbox

from conftest import SECRET, STORE_ORIGIN
from forwarding_fakes import adapters, server_side_config

CREDENTIALS = {"TAG_GATEWAY_FORWARD_META_PIXEL": "meta-token", "TAG_GATEWAY_FORWARD_TIKTOK_PIXEL": "tt-token",
               "TAG_GATEWAY_FORWARD_GA4_G_EXAMPLE123": "ga4-secret"}
CA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}


# -- the config keys ---------------------------------------------------------------------------------

def problems(tmp_path: Path, edit) -> str:
    target = server_side_config(tmp_path / "c")
    tags = target / "tags.yaml"
    tags.write_text(edit(tags.read_text()))
    with pytest.raises(ConfigError) as caught:
        load_config(target)
    return "\n".join(str(p) for p in caught.value.problems)


def test_server_side_on_a_vendor_without_an_adapter_is_refused_with_its_line(tmp_path) -> None:
    text = problems(tmp_path, lambda t: t.replace("    google_ads:\n", "    server_side: only\n    google_ads:\n", 1))
    assert "tags.yaml:" in text and "server_side: google_ads has no server-side adapter" in text


def test_ga4_also_is_refused_because_ga4_does_not_deduplicate(tmp_path) -> None:
    text = problems(tmp_path, lambda t: t.replace("server_side: only", "server_side: also"))
    assert "ga4 cannot send an event both ways: GA4 does not de-duplicate" in text


def test_a_reduced_user_agent_for_meta_is_refused(tmp_path) -> None:
    text = problems(tmp_path, lambda t: t + "\nforwarding:\n  vendors:\n    meta_pixel: {user_agent: reduce}\n")
    assert "forwarding.vendors.meta_pixel.user_agent: meta_pixel requires the full user agent" in text


def test_bad_forwarding_values_are_schema_errors(tmp_path) -> None:
    text = problems(tmp_path, lambda t: t + "\nforwarding:\n  opt_out_mode: sometimes\n  vendors:\n    ga4: {ip: hide}\n")
    assert "forwarding.opt_out_mode" in text and "forwarding.vendors.ga4.ip" in text


def test_forwarding_block_and_missing_credentials(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TAG_GATEWAY_FORWARD_META_PIXEL", "x")
    config = load_config(server_side_config(tmp_path / "c", "  attempts: 3\n  max_value: 500\n  opt_out_mode: restricted\n"
                                                            "  vendors:\n    ga4: {ip: omit, strip_query: true}\n"))
    assert config.forwarding.attempts == 3 and config.forwarding.max_value == 500
    assert config.forwarding.opt_out_mode == "restricted"
    transforms = config.forwarding.transforms_for("ga4")
    assert (transforms.ip, transforms.strip_query, transforms.user_agent) == ("omit", True, "send")
    assert {t.id: t.server_side for t in config.tags if t.server_side} == {
        "meta-purchase": "also", "tiktok-purchase": "also", "ga4-purchase": "only"}
    warned = [str(w) for w in config.warnings if "server_side" in str(w)]
    # meta has its token; tiktok and ga4 do not: warnings (not errors) naming the variables to set.
    assert len(warned) == 2
    assert any("TAG_GATEWAY_FORWARD_TIKTOK_PIXEL_CEXAMPLE0TIKTOK00001" in w for w in warned)
    assert any("TAG_GATEWAY_FORWARD_GA4" in w and "Measurement Protocol API secret" in w for w in warned)


# -- the decision ---------------------------------------------------------------------------------------

def consent(categories, rule="opt_in", refused=None) -> Consent:
    return Consent(tuple(categories), 1, "c" * 32, int(time.time()), ("necessary", "analytics", "marketing"), rule,
                   vendors_refused=refused)


@pytest.mark.parametrize("given,rule,gpc,mode,expected", [
    (consent(["necessary", "marketing"]), "opt_in", False, "drop", ACCEPT),
    (consent(["necessary", "analytics"]), "opt_in", False, "drop", DROP),
    (consent(["necessary", "marketing"], refused=("meta_pixel",)), "opt_in", False, "drop", DROP),
    (consent(["necessary", "marketing"], refused=("tiktok_pixel",)), "opt_in", False, "drop", ACCEPT),
    (None, "opt_in", False, "drop", DROP),                     # no choice in an opt-in region: nothing
    (None, "opt_out", False, "drop", ACCEPT),                  # the opt-out default
    (None, "opt_out", True, "drop", DROP),                     # Global Privacy Control is an opt-out
    (None, "opt_out", True, "restricted", RESTRICTED),         # ... sent in Limited Data Use if chosen
    (consent(["necessary"], rule="opt_out"), "opt_out", False, "restricted", RESTRICTED),
    (consent(["necessary"]), "opt_in", False, "restricted", DROP),  # an opt-in refusal is never restricted
])
def test_decide(given, rule, gpc, mode, expected) -> None:
    verdict = decide(category="marketing", vendor="meta_pixel", vendor_key="meta_pixel", consent=given, rule=rule,
                     gpc=gpc, sale_categories=("marketing",), opt_out_mode=mode)
    assert verdict.outcome == expected
    assert verdict.reason == ("consent" if expected == DROP else "")


def test_restricted_mode_only_for_vendors_that_have_one() -> None:
    verdict = decide(category="marketing", vendor="tiktok_pixel", vendor_key="tiktok_pixel", consent=None,
                     rule="opt_out", gpc=True, sale_categories=("marketing",), opt_out_mode="restricted")
    assert verdict.outcome == DROP


# -- POST /collect -----------------------------------------------------------------------------------------

@pytest.fixture
def gateway(tmp_path, consent_log, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)

    made = itertools.count()

    def make(forwarding: str = "  max_value: 1000\n"):
        # A folder per config (not named by counting tmp_path's entries: SQLite's -wal and -shm files come and go).
        live = LiveConfig.load(server_side_config(tmp_path / f"c{next(made)}", forwarding))
        app = create_app(live, SECRET, consent_log, watch=False, adapters=adapters())
        app.state.forwarding.start = lambda: None  # no delivery here: tests/test_delivery.py
        return TestClient(app, base_url="http://gateway.test", client=("127.0.0.1", 5000))
    return make


@pytest.fixture
def client(gateway):
    with gateway() as test_client:
        yield test_client


def token_for(client, categories, headers=None) -> str:
    answer = client.post("/consent", json={"categories": categories},
                         headers={"Origin": STORE_ORIGIN, **(headers or {})})
    assert answer.status_code == 200
    return answer.json()["token"]


def collect(client, body, token=None, headers=None, path="/collect"):
    extra = {"X-Tag-Gateway-Consent": token} if token else {}
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json",
                                                               "Origin": STORE_ORIGIN, "User-Agent": "Mozilla/5.0 test",
                                                               **extra, **(headers or {})})


def purchase(event_id="order-1", tag="meta-purchase", **more):
    return {"tag": tag, "event_id": event_id, "event_time": int(time.time()), "page": "https://shop.example/thanks?o=1",
            "params": {"value": 59.9, "currency": "EUR"}, "cookies": {"_fbp": "fb.1.1.2"}, **more}


def outbox(consent_log) -> list:
    with consent_log.engine.connect() as connection:
        return connection.execute(select(event_outbox).order_by(event_outbox.c.id)).all()


def drops(consent_log) -> dict:
    with consent_log.engine.connect() as connection:
        return {(r.vendor, r.reason): r.count for r in connection.execute(select(event_drops))}


def test_an_allowed_event_is_in_the_outbox_before_the_answer(client, consent_log) -> None:
    token = token_for(client, ["marketing"])
    answer = collect(client, purchase(), token)
    assert answer.status_code == 202 and answer.json() == {"accepted": True, "event_id": "order-1"}
    assert answer.headers["access-control-allow-origin"] == STORE_ORIGIN
    [row] = outbox(consent_log)
    assert (row.site, row.vendor, row.tag_id, row.event_id, row.state, row.attempts) == (
        "default", "meta_pixel", "meta-purchase", "order-1", "pending", 0)
    payload = row.payload
    assert payload["event_name"] == "Purchase" and payload["account_id"] == "1234567890"
    assert payload["client_ip"] == "127.0.0.1" and payload["user_agent"] == "Mozilla/5.0 test"
    assert payload["params"] == {"value": 59.9, "currency": "EUR"} and payload["cookies"] == {"_fbp": "fb.1.1.2"}
    assert payload["consent_id"] == row.consent_id and len(row.consent_id) == 32 and payload["restricted"] is False


def test_without_consent_in_an_opt_in_region_the_event_is_dropped_and_counted(client, consent_log) -> None:
    for n in range(2):
        answer = collect(client, purchase(f"o-{n}"), token=None, headers={"CF-IPCountry": "DE"})
        assert answer.status_code == 202 and answer.json() == {"accepted": False, "reason": "consent"}
    refused = token_for(client, ["analytics"])
    assert collect(client, purchase("o-3"), refused).json() == {"accepted": False, "reason": "consent"}
    assert outbox(consent_log) == [] and drops(consent_log) == {("meta_pixel", "consent"): 3}


def test_a_forged_token_counts_as_no_choice(client, consent_log) -> None:
    token = token_for(client, ["marketing"])
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert collect(client, purchase(), forged).json()["accepted"] is False
    assert outbox(consent_log) == []


def test_opt_out_region_default_gpc_and_restricted_mode(gateway, consent_log) -> None:
    with gateway() as client:
        assert collect(client, purchase("ca-1"), headers=CA).json()["accepted"] is True
        assert collect(client, purchase("ca-2"), headers={**CA, "Sec-GPC": "1"}).json() == {
            "accepted": False, "reason": "consent"}
    with gateway("  opt_out_mode: restricted\n") as client:
        assert collect(client, purchase("ca-3"), headers={**CA, "Sec-GPC": "1"}).json()["accepted"] is True
        tiktok = collect(client, purchase("ca-4", tag="tiktok-purchase"), headers={**CA, "Sec-GPC": "1"})
        assert tiktok.json() == {"accepted": False, "reason": "consent"}  # TikTok has no restricted mode
    rows = {r.event_id: r.payload for r in outbox(consent_log)}
    assert set(rows) == {"ca-1", "ca-3"}
    assert rows["ca-1"]["restricted"] is False and rows["ca-1"]["consent_id"] == "" and rows["ca-1"]["region"] == "US-CA"
    assert rows["ca-3"]["restricted"] is True


def test_each_event_id_is_accepted_once_per_vendor(client, consent_log) -> None:
    token = token_for(client, ["analytics", "marketing"])
    assert collect(client, purchase("dup"), token).status_code == 202
    again = collect(client, purchase("dup"), token)
    assert again.status_code == 200 and again.json() == {"duplicate": True, "event_id": "dup"}
    assert collect(client, purchase("dup", tag="tiktok-purchase"), token).status_code == 202  # another vendor
    assert [(r.vendor, r.event_id) for r in outbox(consent_log)] == [("meta_pixel", "dup"), ("tiktok_pixel", "dup")]


def test_a_tag_without_credential_is_not_accepted(client, consent_log, monkeypatch) -> None:
    monkeypatch.delenv("TAG_GATEWAY_FORWARD_TIKTOK_PIXEL")
    token = token_for(client, ["marketing"])
    answer = collect(client, purchase(tag="tiktok-purchase"), token)
    assert answer.status_code == 202 and answer.json() == {"accepted": False, "reason": "no_credential"}
    assert outbox(consent_log) == [] and drops(consent_log) == {("tiktok_pixel", "no_credential"): 1}


@pytest.mark.parametrize("body,status,code", [
    (purchase(tag="nope"), 404, "unknown_tag"),
    (purchase(tag="meta-pageview"), 422, "not_server_side"),
    (purchase(params={"value": 5000}), 422, "implausible_value"),
    (purchase(params={"value": "5000.00"}), 422, "implausible_value"),  # a page's data-price is text
    (purchase(params={"value": "NaN"}), 400, "invalid_body"),
    (purchase(params={"value": -1}), 400, "invalid_body"),
    (purchase(params={"value": "lots"}), 400, "invalid_body"),
    (purchase(event_time=int(time.time()) - 30 * 86400), 422, "implausible_time"),
    (purchase(event_id="a b"), 400, "invalid_body"),
    (purchase(event_id=""), 400, "invalid_body"),
    (purchase(page="javascript:alert(1)"), 400, "invalid_body"),
    (purchase(user={"password": "x"}), 400, "invalid_body"),
    (purchase(extra=1), 400, "invalid_body"),
    ([1, 2], 400, "invalid_body"),
    (purchase(params={"pad": "x" * 9000}), 413, "body_too_large"),
])
def test_bad_events_get_a_json_error_and_store_nothing(client, consent_log, body, status, code) -> None:
    token = token_for(client, ["marketing"])
    answer = collect(client, body, token)
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert outbox(consent_log) == []


def test_invalid_json_content_type_and_origin(client) -> None:
    headers = {"Content-Type": "application/json", "Origin": STORE_ORIGIN}
    assert client.post("/collect", content=b"{nope", headers=headers).json()["error"]["code"] == "invalid_json"
    plain = client.post("/collect", content=json.dumps(purchase()), headers={**headers, "Content-Type": "text/plain"})
    assert plain.status_code == 202  # sendBeacon's type: accepted, and decided like any other
    form = client.post("/collect", content=b"a=b", headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    evil = client.post("/collect", content=json.dumps(purchase()), headers={**headers, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"]["code"] == "origin_not_allowed"
    none = client.post("/collect", content=json.dumps(purchase()), headers={"Content-Type": "application/json"})
    assert none.status_code == 403


def test_events_are_rate_limited_per_address_as_forwarding_rate_limit_says(gateway) -> None:
    with gateway("  rate_limit: {requests: 3, per_seconds: 60}\n") as limited:
        answers = [collect(limited, purchase(f"r-{n}")) for n in range(5)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
        assert answers[3].json()["error"]["code"] == "rate_limited" and answers[3].headers["Retry-After"] == "20"
        # The choices have their own budget: a visitor who used up the events can still choose.
        assert limited.post("/consent", json={"categories": ["necessary"]},
                            headers={"Origin": STORE_ORIGIN}).status_code == 200
    with gateway("  rate_limit: false\n") as unlimited:
        assert {collect(unlimited, purchase(f"u-{n}")).status_code for n in range(130)} == {202}


def test_the_default_event_budget_is_120_a_minute() -> None:
    from gateway.forwarding.settings import Forwarding

    assert Forwarding.from_spec({}).rate_limit == (120, 60)
    assert Forwarding.from_spec({"rate_limit": {"requests": 10, "per_seconds": 5}}).rate_limit == (10, 5)
    assert Forwarding.from_spec({"rate_limit": False}).rate_limit is None


def test_health_counts_tags_not_forwarding_and_the_admin_view_names_them(gateway, monkeypatch) -> None:
    monkeypatch.delenv("TAG_GATEWAY_FORWARD_GA4_G_EXAMPLE123")
    admin = "a" * 40
    monkeypatch.setenv("TAG_GATEWAY_ADMIN_TOKEN", admin)
    with gateway() as client:
        public = client.get("/healthz").json()
        assert public["tags_not_forwarding"] == 1 and "ga4-purchase" not in json.dumps(public)
        details = client.get("/healthz/details", headers={"Authorization": f"Bearer {admin}"}).json()
    [entry] = details["not_forwarding"]
    assert entry["tag"] == "ga4-purchase" and "TAG_GATEWAY_FORWARD_GA4" in entry["reason"]
    assert "ga4-secret" not in json.dumps(details) and "meta-token" not in json.dumps(details)


def test_several_sites_each_collect_under_their_own_path(tmp_path, consent_log, monkeypatch) -> None:
    from gateway.sites import LiveSites

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "root"
    root.mkdir()
    for name in ("hats", "shoes"):
        site = server_side_config(root / name) / "site.yaml"
        site.write_text(site.read_text().replace("site:\n", f"site:\n  id: {name}\n", 1))
    app = create_app(LiveSites.load(root), SECRET, consent_log, watch=False, adapters=adapters())
    app.state.forwarding.start = lambda: None
    with TestClient(app, base_url="http://gateway.test", client=("127.0.0.1", 5000)) as client:
        hats = client.post("/c/hats/consent", json={"categories": ["marketing"]}, headers={"Origin": STORE_ORIGIN})
        token = hats.json()["token"]
        assert collect(client, purchase("h-1"), token, path="/c/hats/collect").json()["accepted"] is True
        # The hats token is not a shoes choice: dropped there (opt-in default).
        assert collect(client, purchase("h-1"), token, path="/c/shoes/collect").json() == {
            "accepted": False, "reason": "consent"}
        assert collect(client, purchase(), token, path="/c/nope/collect").status_code == 404
        assert collect(client, purchase(), token).status_code == 404  # /collect of a root of several sites
    assert [(r.site, r.event_id) for r in outbox(consent_log)] == [("hats", "h-1")]
    assert drops(consent_log) == {("meta_pixel", "consent"): 1}


# -- credentials and the test-only base URL ----------------------------------------------------------------

def test_credentials_env_per_account_first_then_vendor_then_the_secrets_file(tmp_path, monkeypatch, caplog) -> None:
    from gateway.forwarding import credentials

    for name in list(CREDENTIALS):
        monkeypatch.delenv(name, raising=False)
    secrets_file = tmp_path / "forwarding-secrets.yaml"
    secrets_file.write_text('meta_pixel: {"1234567890": file-account, default: file-default}\nga4: ga4-file\n')
    secrets_file.chmod(0o644)
    monkeypatch.setenv("TAG_GATEWAY_SECRETS_FILE", str(secrets_file))
    assert credentials.lookup("meta_pixel", "1234567890") == "file-account"
    assert credentials.lookup("meta_pixel", "999") == "file-default"
    assert credentials.lookup("ga4", "G-EXAMPLE123") == "ga4-file"
    assert credentials.lookup("tiktok_pixel", "C1") is None
    assert "can be read by other users" in caplog.text and "file-account" not in caplog.text
    monkeypatch.setenv("TAG_GATEWAY_FORWARD_META_PIXEL", "env-vendor")
    assert credentials.lookup("meta_pixel", "1234567890") == "env-vendor"
    monkeypatch.setenv("TAG_GATEWAY_FORWARD_META_PIXEL_1234567890", "env-account")
    assert credentials.lookup("meta_pixel", "1234567890") == "env-account"
    monkeypatch.setenv("TAG_GATEWAY_FORWARD_GA4_G_EXAMPLE123", "ga4-env")
    assert credentials.lookup("ga4", "G-EXAMPLE123") == "ga4-env"


def test_a_broken_secrets_file_is_logged_without_its_content(tmp_path, monkeypatch, caplog) -> None:
    from gateway.forwarding import credentials

    monkeypatch.delenv("TAG_GATEWAY_FORWARD_META_PIXEL", raising=False)
    broken = tmp_path / "broken.yaml"
    broken.write_text("meta_pixel: [secret-token-value\n")
    broken.chmod(0o600)
    monkeypatch.setenv("TAG_GATEWAY_SECRETS_FILE", str(broken))
    assert credentials.lookup("meta_pixel", "1") is None
    assert "is not a readable YAML mapping" in caplog.text and "secret-token-value" not in caplog.text


def test_base_url_overrides_need_the_test_switch(monkeypatch) -> None:
    from gateway.forwarding import adapters as registry

    monkeypatch.setenv("TAG_GATEWAY_FORWARD_BASE_URL_META_PIXEL", "http://127.0.0.1:1")
    monkeypatch.delenv("TAG_GATEWAY_FORWARD_TEST_ENDPOINTS", raising=False)
    assert registry.base_url("meta_pixel") is None
    monkeypatch.setenv("TAG_GATEWAY_FORWARD_TEST_ENDPOINTS", "1")
    assert registry.base_url("meta_pixel") == "http://127.0.0.1:1"
    assert registry.base_url("ga4") is None


def test_a_vendor_added_after_the_choice_gets_nothing_until_the_visitor_is_asked_again(client, consent_log) -> None:
    """The container holds back a vendor the visitor was never shown (GET /consent asks again); so does /collect.
    The example config has no per-vendor choice, so a category that gained a vendor is held back whole."""
    from gateway.consent import ConsentSigner

    [config] = client.app.state.forwarding.configs().values()
    signer = ConsentSigner(SECRET)

    def token(vendors_offered):
        return signer.issue(("necessary", "analytics", "marketing"), config.site.policy_version,
                            offered=config.category_keys, action="accept_all", site=config.site,
                            vendors_offered=vendors_offered)[0]

    everyone = token(("ga4", "google_ads", "meta_pixel", "tiktok_pixel"))
    assert collect(client, purchase("seen-1"), everyone).json() == {"accepted": True, "event_id": "seen-1"}
    before_tiktok = token(("ga4", "google_ads", "meta_pixel"))
    for event_id, tag in (("unseen-1", "tiktok-purchase"), ("seen-2", "meta-purchase")):
        answer = collect(client, purchase(event_id, tag=tag), before_tiktok)
        assert (answer.status_code, answer.json()) == (202, {"accepted": False, "reason": "consent"}), tag
    assert collect(client, purchase("seen-3", tag="ga4-purchase"), before_tiktok).status_code == 202  # analytics
    assert [row.event_id for row in outbox(consent_log)] == ["seen-1", "seen-3"]

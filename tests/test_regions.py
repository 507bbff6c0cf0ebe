"""Regions: which rule a visitor gets, from whose headers; lifetimes and re-consent of a choice."""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import load_config
from gateway.consent import ConsentSigner
from gateway.errors import ConfigError
from gateway.live_config import LiveConfig
from gateway.regions import OPT_IN, OPT_OUT, RegionRules

from conftest import SECRET, STORE_ORIGIN

ROOT = Path(__file__).resolve().parent.parent
CA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}


@pytest.fixture
def proxied(live: LiveConfig, consent_log):
    """A client whose requests come from 127.0.0.1, the example config's trusted proxy (loopback)."""
    app = create_app(live, SECRET, consent_log, watch=False)
    with TestClient(app, base_url="http://gateway.test", client=("127.0.0.1", 5000)) as c:
        yield c


def rules() -> RegionRules:
    return load_config(ROOT / "tag_configs").regions


@pytest.mark.parametrize("headers,code,rule", [
    ({"CF-IPCountry": "DE"}, "DE", OPT_IN),
    ({"CF-IPCountry": "no"}, "NO", OPT_IN),               # EEA, lower-case as some proxies send it
    ({"CF-IPCountry": "GB"}, "GB", OPT_IN),
    (CA, "US-CA", OPT_OUT),
    ({"CF-IPCountry": "US", "CF-Region-Code": "NY"}, "US-NY", OPT_IN),  # no comprehensive law: the default
    ({"CF-IPCountry": "US"}, "US", OPT_IN),
    ({"CF-IPCountry": "XX"}, None, OPT_IN),                # Cloudflare: unknown
    ({"CF-IPCountry": "D<"}, None, OPT_IN),
    ({}, None, OPT_IN),
])
def test_the_example_rules(headers, code, rule) -> None:
    place = rules().place(headers, trusted=True)
    assert (place.code, place.rule) == (code, rule)


def test_headers_from_an_untrusted_peer_decide_nothing() -> None:
    assert rules().place(CA, trusted=False).rule == OPT_IN


def test_a_subdivision_beats_its_country_and_groups_expand() -> None:
    custom = RegionRules.from_spec({"default": "opt_out", "opt_in": ["EU", "US-CA"], "opt_out": ["US"]})
    assert custom.place({"CF-IPCountry": "US", "CF-Region-Code": "CA"}, True).rule == OPT_IN
    assert custom.place({"CF-IPCountry": "US", "CF-Region-Code": "TX"}, True).rule == OPT_OUT
    assert custom.place({"CF-IPCountry": "FR"}, True).rule == OPT_IN
    assert custom.place({"CF-IPCountry": "NO"}, True).rule == OPT_OUT  # EEA but not EU
    assert custom.place({}, True).rule == OPT_OUT


def test_header_names_are_configurable(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  default: opt_in\n", "  default: opt_in\n  country_header: X-Country\n  subdivision_header: X-Region\n"))
    assert load_config(config_dir).regions.place({"X-Country": "US", "X-Region": "CA"}, True).rule == OPT_OUT


def test_config_mistakes_in_regions_are_reported(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    text = site.read_text().replace("opt_in: [EEA, GB, CH]", "opt_in: [EEA, GB, CH, US-CA, California]")
    text = text.replace("  policy_version: 1\n", "  policy_version: 1\n  trusted_proxies: [10.0.0.0/8, proxy.internal]\n")
    site.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir)
    messages = [f"{p.path}: {p.message}" for p in raised.value.problems]
    assert any(m.startswith("regions.opt_in[4]: 'California' must be a country") for m in messages), messages
    assert any("proxy.internal" in m and m.startswith("site.trusted_proxies[1]") for m in messages), messages


def test_overlapping_rules_are_refused(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("opt_in: [EEA, GB, CH]", "opt_in: [EEA, GB, CH, US-CA]"))
    with pytest.raises(ConfigError, match="US-CA is listed under both opt_in and opt_out"):
        load_config(config_dir)


def test_get_consent_tells_the_container_the_rule(proxied, client) -> None:
    californian = proxied.get("/consent", headers={**CA, "Origin": STORE_ORIGIN}).json()
    assert californian["region"] == {"code": "US-CA", "rule": "opt_out"}
    assert californian["sale"] == ["marketing"]
    assert "Do Not Sell or Share My Personal Information" in californian["notice"]
    german = proxied.get("/consent", headers={"CF-IPCountry": "DE"}).json()
    assert german["region"] == {"code": "DE", "rule": "opt_in"} and "notice" not in german
    # The same headers from a peer that is not a trusted proxy: the strictest rule, no place.
    spoofed = client.get("/consent", headers=CA).json()
    assert spoofed["region"] == {"code": None, "rule": "opt_in"}
    assert proxied.get("/consent", headers={**CA}).headers["cache-control"] == "no-store"


def test_the_gpc_header_is_reported_and_recorded(proxied) -> None:
    assert proxied.get("/consent", headers={**CA, "Sec-GPC": "1"}).json()["gpc"] is True
    stored = proxied.post("/consent", json={"categories": ["analytics"], "action": "gpc"},
                          headers={**CA, "Sec-GPC": "1", "Origin": STORE_ORIGIN}).json()["consent"]
    assert stored["rule"] == "opt_out" and stored["gpc"] is True and stored["action"] == "gpc"
    via_body = proxied.post("/consent", json={"categories": [], "action": "reject_all", "gpc": True},
                            headers={"Origin": STORE_ORIGIN}).json()["consent"]
    assert via_body["gpc"] is True and via_body["rule"] == "opt_in"


@pytest.mark.parametrize("body", [{"categories": [], "action": "maybe"}, {"categories": [], "gpc": "yes"}])
def test_bad_action_or_gpc_is_a_400(proxied, body) -> None:
    response = proxied.post("/consent", json=body, headers={"Origin": STORE_ORIGIN})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_body"


# ---------------------------------------------------------------- lifetimes and re-consent


def signer_at(offset_days: float) -> ConsentSigner:
    """A signer whose clock runs `offset_days` behind: its tokens were issued that long ago."""
    signer = ConsentSigner(SECRET)
    real = signer._signer.get_timestamp
    signer._signer.get_timestamp = lambda: int(real() - offset_days * 86400)
    return signer


def reason(token: str, config) -> str:
    site = config.site
    return ConsentSigner(SECRET).read(token, policy_version=site.policy_version, known_categories=config.category_keys,
                                      max_age=site.acceptance_max_age_seconds,
                                      refusal_max_age=site.refusal_max_age_seconds).reason


def test_acceptance_and_refusal_have_their_own_lifetimes(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  consent_max_age_days: 180\n",
                                             "  acceptance_max_age_days: 180\n  refusal_max_age_days: 30\n"))
    config = load_config(config_dir)
    offered = config.category_keys
    accepted = lambda days: signer_at(days).issue(offered, 1, offered=offered)[0]  # noqa: E731
    refused = lambda days: signer_at(days).issue(("necessary",), 1, offered=offered)[0]  # noqa: E731
    assert reason(accepted(29), config) == reason(refused(29), config) == "valid"
    assert reason(refused(31), config) == "expired" and reason(accepted(31), config) == "valid"
    assert reason(accepted(181), config) == "expired"


def test_more_than_13_months_is_refused(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  consent_max_age_days: 180\n", "  refusal_max_age_days: 400\n"))
    with pytest.raises(ConfigError, match="refusal_max_age_days: 400 is too large"):
        load_config(config_dir)


def test_a_new_category_asks_again_without_a_policy_bump(config_dir: Path) -> None:
    config = load_config(config_dir)
    token, _ = ConsentSigner(SECRET).issue(config.category_keys, 1, offered=config.category_keys)
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("categories:\n", "categories:\n  preferences:\n    label: Preferences\n"
                                             "    description: Remembers your settings.\n", 1))
    assert reason(token, load_config(config_dir)) == "new_category"


def test_tokens_from_before_regions_keep_their_meaning() -> None:
    """A version-1 payload ({c, v, id}) still reads as the same choice: an upgrade re-asks nobody."""
    config = load_config(ROOT / "tag_configs")
    payload = json.dumps({"c": ["necessary", "analytics"], "v": 1, "id": "0" * 32}, separators=(",", ":"))
    old = TimestampSigner(SECRET, salt="tag-gateway.consent.v1").sign(urlsafe_b64encode(payload.encode()).rstrip(b"="))
    reading = ConsentSigner(SECRET).read(old.decode(), policy_version=1, known_categories=config.category_keys,
                                         max_age=config.site.acceptance_max_age_seconds)
    assert reading.reason == "valid"
    assert reading.consent.categories == ("necessary", "analytics") and reading.consent.rule == "opt_in"


def test_a_refusal_cookie_lives_as_long_as_the_longest_lifetime(proxied, config_dir: Path, live) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  consent_max_age_days: 180\n",
                                             "  acceptance_max_age_days: 180\n  refusal_max_age_days: 30\n"))
    assert live.reload_if_changed()
    cookie = proxied.post("/consent", json={"categories": []}, headers={"Origin": STORE_ORIGIN}).headers["set-cookie"]
    # The cookie lives as long as the longest lifetime; the token inside carries the refusal's shorter one.
    assert f"Max-Age={180 * 86400}" in cookie


# ---------------------------------------------------------------- what GET /consent tells the container


def test_a_visitor_without_a_choice_gets_the_dialogs_with_the_answer(proxied) -> None:
    german = proxied.get("/consent", headers={"CF-IPCountry": "DE"}).json()
    assert 'class="tg-banner ' in german["ui"] and 'class="tg-prefs"' in german["ui"]  # the banner also has its layout's classes
    assert "defaults" not in german  # opt-in: nothing fires until the banner is answered
    token = proxied.post("/consent", json={"categories": []}, headers={"Origin": STORE_ORIGIN}).json()["token"]
    decided = proxied.get("/consent", headers={"X-Tag-Gateway-Consent": token, "CF-IPCountry": "DE"}).json()
    assert "ui" not in decided  # a stored choice needs no banner; GET /ui serves the preferences


def test_an_opt_out_visitor_fires_by_default_until_opting_out(proxied) -> None:
    fresh = proxied.get("/consent", headers=CA).json()
    assert fresh["defaults"] == ["necessary", "analytics", "marketing"] and "record" not in fresh
    assert 'class="tg-notice"' in fresh["notice"] and "ui" not in fresh
    # The browser's own opt-out marker (the gateway may not have stored that choice yet) ...
    marked = proxied.get("/consent?opted_out=1", headers=CA).json()
    assert marked["defaults"] == ["necessary", "analytics"] and marked["record"] == "opt_out_link"
    assert 'class="tg-notice tg-out"' in marked["notice"]  # shows "Opt-Out Request Honored"
    # ... and Global Privacy Control, from the header or from navigator.globalPrivacyControl.
    for gpc in ({"Sec-GPC": "1"}, {}):
        answer = proxied.get("/consent" + ("" if gpc else "?gpc=1"), headers={**CA, **gpc}).json()
        assert answer["defaults"] == ["necessary", "analytics"] and answer["record"] == "gpc" and answer["gpc"] is True


def test_a_stored_choice_that_still_sells_yields_to_the_opt_out_marker(proxied) -> None:
    token = proxied.post("/consent", json={"categories": ["analytics", "marketing"]},
                         headers={**CA, "Origin": STORE_ORIGIN}).json()["token"]
    assert proxied.get("/consent", headers={**CA, "X-Tag-Gateway-Consent": token}).json()["reason"] == "valid"
    marked = proxied.get("/consent?opted_out=1", headers={**CA, "X-Tag-Gateway-Consent": token}).json()
    assert marked["consent"] is None and marked["reason"] == "opted_out_since" and marked["record"] == "opt_out_link"
    opted_out = proxied.post("/consent", json={"categories": ["analytics"], "action": "opt_out_link"},
                             headers={**CA, "Origin": STORE_ORIGIN}).json()["token"]
    later = proxied.get("/consent", headers={**CA, "X-Tag-Gateway-Consent": opted_out}).json()
    assert later["consent"]["categories"] == ["necessary", "analytics"] and 'class="tg-notice tg-out"' in later["notice"]


def test_get_ui_serves_the_dialogs_cacheably(proxied) -> None:
    response = proxied.get("/ui")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["access-control-allow-origin"] == "*" and response.headers["cache-control"] == "public, max-age=300"
    assert 'class="tg-prefs"' in response.text
    again = proxied.get("/ui", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_store_server_can_read_a_visitor_choice(proxied) -> None:
    """Server to server (no Origin, no CORS): the store passes on the visitor's tg_consent cookie."""
    token = proxied.post("/consent", json={"categories": ["analytics"], "action": "opt_out_link"},
                         headers={**CA, "Origin": STORE_ORIGIN}).json()["token"]
    proxied.cookies.clear()
    answer = proxied.get("/consent", headers={"X-Tag-Gateway-Consent": token})
    assert answer.status_code == 200
    consent = answer.json()["consent"]
    assert "marketing" not in consent["categories"] and consent["action"] == "opt_out_link"
    forged = proxied.get("/consent", headers={"X-Tag-Gateway-Consent": token[:-2] + "xx"}).json()
    assert forged["consent"] is None and forged["reason"] == "invalid"


def test_restricted_mode_is_for_vendors_that_have_one_and_for_sale_categories(config_dir: Path) -> None:
    tags = config_dir / "tags.yaml"
    text = tags.read_text()
    text = text.replace("    category: marketing\n    trigger: {type: page_view}\n    meta_pixel",
                        "    category: analytics\n    trigger: {type: page_view}\n    after_opt_out: restricted\n    meta_pixel", 1)
    text = text.replace("    tiktok_pixel: {pixel_id: CEXAMPLE0TIKTOK00001}\n",
                        "    after_opt_out: restricted\n    tiktok_pixel: {pixel_id: CEXAMPLE0TIKTOK00001}\n", 1)
    text = text.replace("    google_ads:\n", "    after_opt_out: restricted\n    google_ads:\n", 1)
    tags.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir)
    messages = [f"{p.path}: {p.message}" for p in raised.value.problems]
    assert any("tiktok_pixel has no restricted mode; only meta_pixel (Limited Data Use)" in m for m in messages), messages
    assert any("category 'analytics' is not sale_or_sharing" in m for m in messages), messages
    assert len(messages) == 2, messages  # the Google Ads tag's is fine


def test_the_notice_can_use_the_single_privacy_choices_link(config_dir: Path) -> None:
    from gateway.container import render_notice

    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  default: opt_in\n", "  default: opt_in\n  opt_out_link: privacy_choices\n"))
    notice = render_notice(load_config(config_dir), honored=False)
    assert "Your Privacy Choices" in notice and 'class="tg-choices"' in notice and 'data-tg="settings"' in notice
    assert "Do Not Sell or Share My Personal Information</button>" not in notice
    plain = render_notice(load_config(ROOT / "tag_configs"), honored=False)
    assert 'data-tg="optout">Do Not Sell or Share My Personal Information</button>' in plain


def test_the_dialogs_travel_gzipped(proxied) -> None:
    answer = proxied.get("/consent", headers={"CF-IPCountry": "DE", "Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip" and "tg-banner" in answer.json()["ui"]
    assert proxied.get("/ui", headers={"Accept-Encoding": "gzip"}).headers["content-encoding"] == "gzip"
    plain = proxied.get("/container.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and "vary" in plain.headers

"""Per-vendor choices and disclosure (issue 10): every category lists its vendors (name, purpose, cookies with
lifetimes, privacy policy); with site.vendor_choice each has its own switch, and the token, the consent log and
the container follow the vendors refused. Browser behaviour: e2e/test_vendor_choice.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from gateway.config import load_config
from gateway.consent import ConsentSigner
from gateway.container import build_container, render_dialogs, runtime_config
from gateway.store import chain, database
from gateway.store.export import write as export
from gateway.store.show import render as show
from gateway.vendors import VENDORS, VendorError, discover

from conftest import SECRET, STORE_ORIGIN

JSON = {"Content-Type": "application/json", "Origin": STORE_ORIGIN}


def turn_on(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  auto_blocking: true\n", "  auto_blocking: true\n  vendor_choice: true\n"))


# -- vendor data ------------------------------------------------------------------------------------

def test_every_vendor_discloses_its_cookies_lifetimes_and_privacy_policy() -> None:
    for key, vendor in VENDORS.items():
        assert vendor.privacy_policy and vendor.privacy_policy.startswith("https://"), key
        assert set(vendor.cookie_lifetimes) == set(vendor.cookies) and vendor.cookies, key
    # The withdrawal clean-up still gets plain name patterns.
    assert VENDORS["meta_pixel"].cookies == ("_fbp", "_fbc") and VENDORS["meta_pixel"].cookie_lifetimes == {"_fbp": 90, "_fbc": 90}
    assert 'KINDS.tiktok_pixel.cookies = ["_ttp", "_tt_*", "ttcsid*"]' in VENDORS["tiktok_pixel"].js


@pytest.mark.parametrize("extra,message", [
    ("cookies: [_a, _b]\ncookie_lifetimes: {_a: 30}\n", "cookie_lifetimes must give each"),
    ("cookies: [_a]\ncookie_lifetimes: {_a: forever}\n", "cookie_lifetimes must give each"),
    ("cookies: [_a]\ncookie_lifetimes: {_a: 0m}\n", "cookie_lifetimes must give each"),
    ("cookies: [_a]\ncookie_lifetimes: {_a: 1d}\n", "cookie_lifetimes must give each"),
    ("cookies: [_a]\ncookie_lifetimes: {_a: 0.5}\n", "cookie_lifetimes must give each"),
    ("privacy_policy: javascript:alert(1)\n", "privacy_policy must be the https URL"),
])
def test_a_unit_with_broken_disclosure_is_refused(tmp_path: Path, extra: str, message: str) -> None:
    unit = tmp_path / "acme"
    unit.mkdir()
    (unit / "vendor.yaml").write_text("name: X\npurposes: [advertising]\naccount_key: id\nhosts: [x.example]\n"
                                      "parameters: {type: object, required: [id]}\n" + extra)
    (unit / "adapter.js").write_text("KINDS.acme = {fire: function () {}};\n")
    with pytest.raises(VendorError, match=message):
        discover(tmp_path)


# -- disclosure in the preferences -------------------------------------------------------------------

def test_each_category_lists_its_vendors_with_cookies_lifetimes_and_link(config_dir: Path) -> None:
    html = render_dialogs(load_config(config_dir), "en")
    marketing = html[html.index('data-category="marketing"'):]
    summary = re.search(r'<details class="tg-vendors"><summary>([^<]*)</summary>', marketing).group(1)
    assert summary == "Partners and their cookies (3)"
    for name, cookie, policy in [("Meta Pixel", "<code>_fbp</code> (90 days)", "https://www.facebook.com/privacy/policy/"),
                                 ("TikTok Pixel", "<code>_ttp</code> (395 days)", "https://www.tiktok.com/legal/page/eea/privacy-policy/en"),
                                 ("Google Ads", "<code>_gcl_*</code> (90 days)", "https://policies.google.com/privacy")]:
        assert f"<strong>{name}</strong><p>Purpose: measuring and personalising ads</p>" in marketing
        assert cookie in marketing
        assert f'<a href="{policy}" target="_blank" rel="noopener">Privacy policy of {name}</a>' in marketing
    analytics = html[html.index('data-category="analytics"'):html.index('data-category="marketing"')]
    assert "<strong>Google Analytics 4</strong>" in analytics and "<code>_gid</code> (24 hours)" in analytics
    assert "Meta Pixel" not in analytics
    assert "data-vendor" not in html  # no switches without vendor_choice
    german = render_dialogs(load_config(config_dir), "de")
    assert "Partner und ihre Cookies (3)" in german and "(90 Tage)" in german and "Datenschutzerklärung von Meta Pixel" in german


def test_a_lifetime_below_a_day_is_said_in_minutes_or_hours_as_the_vendor_documents_it(config_dir: Path) -> None:
    """Google documents _gat as 1 minute and _gid as 24 hours: the preferences never round them up to a day."""
    assert VENDORS["ga4"].cookie_lifetimes["_gat*"] == "1m" and VENDORS["ga4"].cookie_lifetimes["_gid"] == "24h"
    config = load_config(config_dir)
    english = render_dialogs(config, "en")
    analytics = english[english.index('data-category="analytics"'):english.index('data-category="marketing"')]
    assert "<code>_gat*</code> (1 minute)" in analytics and "<code>_gid</code> (24 hours)" in analytics
    assert "<code>_ga</code> (730 days)" in analytics
    german = render_dialogs(config, "de")
    assert "<code>_gat*</code> (1 Minute)" in german and "<code>_gid</code> (24 Stunden)" in german
    (config_dir / "own.yaml").write_text(yaml.safe_dump({"tags": [
        {"id": "short", "name": "Short", "category": "analytics", "trigger": {"type": "page_view"},
         "image": {"url": "https://c.example/p.gif"},
         "vendor": {"cookies": {"a": "30m", "b": "1h", "c": "12h"}}}]}))
    html = render_dialogs(load_config(config_dir), "en")
    assert "<code>a</code> (30 minutes), <code>b</code> (1 hour), <code>c</code> (12 hours)" in html


def test_image_and_script_tags_are_listed_by_their_name_with_what_they_declare(config_dir: Path) -> None:
    (config_dir / "own.yaml").write_text(yaml.safe_dump({"tags": [
        {"id": "affiliate", "name": "Partner <network>", "category": "marketing", "trigger": {"type": "page_view"},
         "image": {"url": "https://track.affiliate.example/p.gif"},
         "vendor": {"privacy_policy": "https://affiliate.example/privacy", "cookies": {"aff_id": 30, "aff_s": "session"}}},
        {"id": "bare", "category": "analytics", "trigger": {"type": "page_view"}, "image": {"url": "https://c.example/p.gif"}},
    ]}))
    html = render_dialogs(load_config(config_dir), "en")
    assert "<strong>Partner &lt;network&gt;</strong>" in html  # autoescaped
    assert "<code>aff_id</code> (30 days), <code>aff_s</code> (until the browser closes)" in html
    assert "Privacy policy of Partner &lt;network&gt;" in html
    assert "<strong>bare</strong></li>" in html  # nothing declared: the name only


def test_vendor_info_is_for_image_and_script_tags_only(config_dir: Path) -> None:
    (config_dir / "own.yaml").write_text(yaml.safe_dump({"tags": [
        {"id": "meta2", "category": "marketing", "trigger": {"type": "page_view"}, "meta_pixel": {"pixel_id": "123456"},
         "vendor": {"privacy_policy": "https://x.example/p"}}]}))
    with pytest.raises(Exception, match="meta_pixel brings its own vendor information"):
        load_config(config_dir)


def test_switches_and_container_keys_only_with_vendor_choice(config_dir: Path) -> None:
    off = runtime_config(load_config(config_dir), "")
    assert "vc" not in off and all("v" not in tag for tag in off["tags"]) and "v" not in off["gcm"]
    turn_on(config_dir)
    config = load_config(config_dir)
    html = render_dialogs(config, "en")
    switches = re.findall(r'<input type="checkbox" id="(tg-cat-\d+-v\d+)" data-vendor="(\w+)" data-of="(\w+)"><label for="\1">', html)
    assert [(v, c) for _, v, c in switches] == [("ga4", "analytics"), ("meta_pixel", "marketing"),
                                                ("tiktok_pixel", "marketing"), ("google_ads", "marketing")]
    on = runtime_config(config, "")
    assert on["vc"] is True
    assert {tag["id"]: tag["v"] for tag in on["tags"]}["tiktok-pageview"] == "tiktok_pixel"
    assert on["gcm"]["v"] == {"analytics_storage": ["ga4"], "ad_storage": ["google_ads"], "ad_user_data": ["google_ads"],
                              "ad_personalization": ["google_ads"]}


def test_only_a_vendor_choice_site_ships_the_per_vendor_code(config_dir: Path) -> None:
    # consent_ui/vendors.js: what makes a refused vendor stop firing, keeps its list in POST /consent and
    # keeps a Google consent type denied. A store without vendor_choice gets none of it, and a smaller file.
    off = build_container(load_config(config_dir))
    turn_on(config_dir)
    on = build_container(load_config(config_dir))
    # Its marks in the minified text (property names and strings survive the mangler): accept all lifts every
    # refusal, and the Google vendors behind a consent type are read from CONFIG.gcm.v.
    for mark in ("==='accept_all'?[]:", ".gcm.v["):
        assert mark in on.body.decode() and mark not in off.body.decode(), mark
    assert len(off.gzipped) < len(on.gzipped)


# -- the token ---------------------------------------------------------------------------------------

def test_the_token_carries_the_refused_vendors_and_old_tokens_mean_every_vendor() -> None:
    signer = ConsentSigner(SECRET)
    keys = ("necessary", "analytics", "marketing")
    token, issued = signer.issue(keys, 1, offered=keys, vendors_refused=("tiktok_pixel",))
    read = signer.read(token, policy_version=1, known_categories=keys, max_age=3600)
    assert read.reason == "valid" and read.consent.vendors_refused == ("tiktok_pixel",) == issued.vendors_refused
    assert read.consent.as_json()["vendors_refused"] == ["tiktok_pixel"]
    old, _ = signer.issue(keys, 1, offered=keys)
    plain = signer.read(old, policy_version=1, known_categories=keys, max_age=3600).consent
    assert plain.vendors_refused is None and "vendors_refused" not in plain.as_json()


# -- POST /consent -----------------------------------------------------------------------------------

def test_post_refuses_vendors_without_vendor_choice(client) -> None:
    response = client.post("/consent", json={"categories": ["marketing"], "vendors_refused": ["tiktok_pixel"]}, headers=JSON)
    assert response.status_code == 400 and "site.vendor_choice" in response.json()["error"]["message"]
    ok = client.post("/consent", json={"categories": ["marketing"]}, headers=JSON).json()["consent"]
    assert "vendors_refused" not in ok


@pytest.fixture
def vc_client(config_dir, consent_log):
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.live_config import LiveConfig

    turn_on(config_dir)
    with TestClient(create_app(LiveConfig.load(config_dir), SECRET, consent_log, watch=False),
                    base_url="http://gateway.test") as test_client:
        yield test_client


@pytest.mark.parametrize("sent,code", [
    (["tiktok"], "unknown_vendor"),
    (["tiktok_pixel", 3], "invalid_body"),
    ("tiktok_pixel", "invalid_body"),
])
def test_post_validates_vendors_against_the_config(vc_client, sent, code) -> None:
    response = vc_client.post("/consent", json={"categories": ["marketing"], "vendors_refused": sent}, headers=JSON)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert "set-cookie" not in response.headers


def test_post_records_the_refused_vendors_in_the_token_and_the_log(vc_client, consent_log) -> None:
    body = vc_client.post("/consent", json={"categories": ["analytics", "marketing"],
                                            "vendors_refused": ["tiktok_pixel", "tiktok_pixel"]}, headers=JSON).json()
    assert body["consent"]["vendors_refused"] == ["tiktok_pixel"]
    reading = vc_client.get("/consent", headers={"X-Tag-Gateway-Consent": body["token"], "Origin": STORE_ORIGIN}).json()
    assert reading["consent"]["vendors_refused"] == ["tiktok_pixel"]
    # A vendor of a category left off is refused with it: the record keeps only what the switches changed.
    other = vc_client.post("/consent", json={"categories": ["analytics"], "vendors_refused": ["tiktok_pixel"]},
                           headers=JSON).json()
    assert other["consent"]["vendors_refused"] == []
    accept = vc_client.post("/consent", json={"categories": ["analytics", "marketing"], "action": "accept_all"},
                            headers=JSON).json()
    assert accept["consent"]["vendors_refused"] == []
    records = list(consent_log.records())
    assert [r.vendors_refused for r in records] == [("tiktok_pixel",), (), ()]
    assert consent_log.verify().ok
    assert "  vendors off   tiktok_pixel" in show(records[0].consent_id, records[:1], {})


# -- the consent log ---------------------------------------------------------------------------------

def test_old_records_hash_as_before_and_the_list_is_covered() -> None:
    from test_consent_log import FORMAT_1_HASH, FORMAT_1_ROW

    assert chain.record_hash("0" * 64, {**FORMAT_1_ROW, "vendors_refused": None}) == FORMAT_1_HASH
    with_site = chain.record_hash("0" * 64, {**FORMAT_1_ROW, "site": "shoes"})
    assert chain.record_hash("0" * 64, {**FORMAT_1_ROW, "site": "shoes", "vendors_refused": None}) == with_site
    fields = chain.chained_fields({**FORMAT_1_ROW, "vendors_refused": ["tiktok_pixel"]})
    assert fields["format"] == 3 and fields["vendors_refused"] == ["tiktok_pixel"] and fields["site"] is None
    hashes = {chain.record_hash("0" * 64, {**FORMAT_1_ROW, "vendors_refused": v}) for v in ([], ["tiktok_pixel"], ["meta_pixel"])}
    assert len(hashes) == 3 and FORMAT_1_HASH not in hashes


def test_verify_catches_an_edited_vendor_list_and_old_records_verify(tmp_path, make_decision) -> None:
    from test_consent_log import write_log_before_sites

    from gateway.store import ConsentLog

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    write_log_before_sites(url, 2)  # records of a gateway before 0003 (and 0004)
    with ConsentLog.open(url) as log:  # migrates to 0004
        log.record(make_decision(consent_id="v1", site="shop", vendors_refused=("tiktok_pixel",)))
        log.record(make_decision(consent_id="v2", site="shop"))
        assert log.verify().ok and [r.vendors_refused for r in log.records()] == [None, None, ("tiktok_pixel",), None]
        engine = create_engine(database.resolve_url(url))
        with engine.begin() as connection:
            connection.execute(text("UPDATE consent_records SET vendors_refused = '[]' WHERE seq = 3"))
        engine.dispose()
        check = log.verify()
        assert not check.ok and check.broken_seq == 3
        import io

        out = io.StringIO()
        export(log, out, "csv")
        header, *lines = out.getvalue().splitlines()
        assert "vendors_refused" in header.split(",") and "[]" in lines[2] and lines[0].count("[]") == 0


# -- the vendors shown, and vendors added since ------------------------------------------------------

def _without_tiktok(config_dir: Path) -> None:
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("    tiktok_pixel: {pixel_id: CEXAMPLE0TIKTOK00001}\n",
                                             "    tiktok_pixel: {pixel_id: CEXAMPLE0TIKTOK00001}\n    enabled: false\n"))


def test_a_vendor_added_since_the_choice_is_held_back_and_the_visitor_asked_again(config_dir: Path) -> None:
    from gateway.vendor_choice import offered_vendors, with_unseen_vendors

    _without_tiktok(config_dir)
    before = load_config(config_dir)
    assert offered_vendors(before) == ("ga4", "google_ads", "meta_pixel")
    signer = ConsentSigner(SECRET)
    keys = before.category_keys
    _, marketing = signer.issue(("necessary", "marketing"), 1, offered=keys, vendors_offered=offered_vendors(before))
    _, analytics = signer.issue(("necessary", "analytics"), 1, offered=keys, vendors_offered=offered_vendors(before))
    _, old = signer.issue(("necessary", "marketing"), 1, offered=keys)  # a token from before `vo`
    assert with_unseen_vendors(marketing, before) == (marketing, False)

    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("    enabled: false\n", ""))
    after = load_config(config_dir)
    # Without per-vendor switches, the category that gained TikTok is off until the visitor chooses again.
    now, reask = with_unseen_vendors(marketing, after)
    assert reask and now.categories == ("necessary",)
    # Only in a category the visitor refused: nothing changes for them; an old token asks no one.
    assert with_unseen_vendors(analytics, after) == (analytics, False)
    assert with_unseen_vendors(old, after) == (old, False)
    # With per-vendor switches, TikTok alone is refused: Meta and Google Ads keep their consent.
    turn_on(config_dir)
    now, reask = with_unseen_vendors(marketing, load_config(config_dir))
    assert reask and now.categories == ("necessary", "marketing") and now.vendors_refused == ("tiktok_pixel",)


def test_get_consent_asks_again_with_the_banner_and_the_log_lists_the_vendors_shown(config_dir, consent_log) -> None:
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.live_config import LiveConfig

    _without_tiktok(config_dir)
    with TestClient(create_app(LiveConfig.load(config_dir), SECRET, consent_log, watch=False), base_url="http://gateway.test") as first:
        body = first.post("/consent", json={"categories": ["marketing"]}, headers=JSON).json()
    [record] = consent_log.records()
    assert record.vendors_offered == ("ga4", "google_ads", "meta_pixel") and consent_log.verify().ok
    assert "  vendors shown ga4, google_ads, meta_pixel" in show(record.consent_id, [record], {})
    ask = {"X-Tag-Gateway-Consent": body["token"], "Origin": STORE_ORIGIN}
    with TestClient(create_app(LiveConfig.load(config_dir), SECRET, consent_log, watch=False), base_url="http://gateway.test") as same:
        unchanged = same.get("/consent", headers=ask).json()
    assert "reask" not in unchanged and "ui" not in unchanged and unchanged["consent"]["categories"] == ["necessary", "marketing"]

    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("    enabled: false\n", ""))
    with TestClient(create_app(LiveConfig.load(config_dir), SECRET, consent_log, watch=False), base_url="http://gateway.test") as later:
        again = later.get("/consent", headers=ask).json()
    assert again["reask"] is True and "TikTok Pixel" in again["ui"]
    assert again["consent"]["categories"] == ["necessary"] and again["consent"]["id"] == body["consent"]["id"]


def test_the_chain_covers_the_vendors_shown_in_format_4() -> None:
    from test_consent_log import FORMAT_1_HASH, FORMAT_1_ROW

    assert chain.record_hash("0" * 64, {**FORMAT_1_ROW, "vendors_offered": None}) == FORMAT_1_HASH
    fields = chain.chained_fields({**FORMAT_1_ROW, "vendors_offered": ["meta_pixel"]})
    assert fields["format"] == 4 and fields["vendors_offered"] == ["meta_pixel"] and fields["vendors_refused"] is None
    hashes = {chain.record_hash("0" * 64, {**FORMAT_1_ROW, "vendors_offered": v}) for v in ([], ["meta_pixel"], ["ga4"])}
    assert len(hashes) == 3 and FORMAT_1_HASH not in hashes

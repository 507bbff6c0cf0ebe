"""gateway/vendors/: each vendor template is one folder, found and checked at import, and what it holds is
what the schema, the firewall, the build and the container use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.container import static_source
from gateway.firewall import firewall_rules
from gateway.js_minify import mangle
from gateway.schema import load_schema
from gateway.tags import KINDS, kind_js
from gateway.vendors import ROOT, VENDORS, VendorError, discover

SITE = """
site: {name: Units, allowed_origins: ["https://shop.example"], policy_version: 1, privacy_policy_url: /privacy}
categories:
  marketing: {label: Marketing, description: Ads.}
"""


def _tags(tmp_path: Path, tags: str):
    (tmp_path / "site.yaml").write_text(SITE)
    (tmp_path / "tags.yaml").write_text("tags:\n" + tags)
    return load_config(tmp_path)


def test_every_folder_is_a_vendor_and_a_tag_kind() -> None:
    folders = sorted(p.name for p in ROOT.iterdir() if (p / "vendor.yaml").is_file())
    assert list(VENDORS) == folders
    assert {"ga4", "google_ads", "meta_pixel", "tiktok_pixel", "pinterest", "snap_pixel",
            "microsoft_uet", "linkedin_insight", "reddit_pixel", "x_pixel"} <= set(VENDORS)
    assert set(VENDORS) <= set(KINDS)
    schema = load_schema()
    for key, vendor in VENDORS.items():
        assert schema["$defs"][key] == vendor.parameters
        assert schema["$defs"]["tag"]["properties"][key] == {"$ref": f"#/$defs/{key}"}
        assert kind_js(key).count(f"KINDS.{key} =") == 1


def test_the_event_mapping_is_the_one_the_build_uses(tmp_path: Path) -> None:
    config = _tags(tmp_path, """
  - {id: meta, category: marketing, trigger: {type: event, event: purchase}, meta_pixel: {pixel_id: "123456"}}
  - {id: tt, category: marketing, trigger: {type: event, event: purchase}, tiktok_pixel: {pixel_id: C0123456789}}
  - {id: pin, category: marketing, trigger: {type: event, event: purchase}, pinterest: {tag_id: "2612345678901"}}
  - {id: pin-page, category: marketing, trigger: {type: page_view}, pinterest: {tag_id: "2612345678901"}}
  - {id: snap, category: marketing, trigger: {type: event, event: purchase},
     snap_pixel: {pixel_id: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}}
  - {id: own, category: marketing, trigger: {type: event, event: purchase},
     snap_pixel: {pixel_id: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d, event: CUSTOM_EVENT_1}}
  - {id: unmapped, category: marketing, trigger: {type: event, event: newsletter}, pinterest: {tag_id: "2612345678901"}}
""")
    events = {tag.id: tag.compiled["event"] for tag in config.tags}
    assert events == {"meta": "Purchase", "tt": "CompletePayment", "pin": "checkout", "pin-page": "pagevisit",
                      "snap": "PURCHASE", "own": "CUSTOM_EVENT_1", "unmapped": "newsletter"}
    for vendor in ("meta_pixel", "tiktok_pixel", "pinterest", "snap_pixel"):
        assert VENDORS[vendor].events["purchase"] in events.values()
    # The container carries the mapped name, never the mapping.
    source = mangle(static_source(tuple(sorted(VENDORS))))
    assert "CompletePayment" not in source and "PURCHASE" not in source and "checkout'" not in source


def test_units_declare_hosts_for_the_firewall_and_cookies_for_withdrawal(tmp_path: Path) -> None:
    config = _tags(tmp_path, """
  - {id: pin, category: marketing, trigger: {type: page_view}, pinterest: {tag_id: "2612345678901"}}
  - {id: snap, category: marketing, trigger: {type: page_view}, snap_pixel: {pixel_id: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}}
""")
    rules = {(host, path) for host, path, _ in firewall_rules(config)}
    assert rules == {("s.pinimg.com", "/ct/"), ("ct.pinterest.com", ""), ("sc-static.net", ""), ("tr.snapchat.com", "")}
    assert 'KINDS.pinterest.cookies = ["_pin_unauth", ' in kind_js("pinterest")
    assert 'KINDS.snap_pixel.cookies = ["_scid*", ' in kind_js("snap_pixel")


@pytest.mark.parametrize("yaml_text,message", [
    ("name: X\npurposes: [advertising]\naccount_key: id\nhosts: [x.example]\n", "missing \\['parameters'\\]"),
    ("name: X\npurposes: [advertising]\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\n"
     "hots: []\n", "unknown \\['hots'\\]"),
    ("name: X\npurposes: [advertising]\naccount_key: id\nhosts: ['https://x.example']\n"
     "parameters: {type: object, required: [id]}\n", "hosts"),
    ("name: X\npurposes: [advertising]\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [other]}\n",
     "requiring 'id'"),
    ("name: X\npurposes: [advertising]\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\n"
     "cookies: ['a b']\n", "cookies"),
    # What the vendor is for is data every unit states (the lint keeps trackers out of `necessary`).
    ("name: X\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\n", "missing \\['purposes'\\]"),
    ("name: X\npurposes: []\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\n", "purposes"),
    ("name: X\npurposes: [fun]\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\n",
     "purposes must list"),
])
def test_a_broken_unit_is_refused_at_import(tmp_path: Path, yaml_text: str, message: str) -> None:
    unit = tmp_path / "acme"
    unit.mkdir()
    (unit / "vendor.yaml").write_text(yaml_text)
    (unit / "adapter.js").write_text("KINDS.acme = {fire: function () {}};\n")
    with pytest.raises(VendorError, match=message):
        discover(tmp_path)


def test_adding_a_vendor_is_adding_a_folder(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "snap_pixel", tmp_path / "acme")
    (tmp_path / "acme" / "adapter.js").write_text("KINDS.acme = {fire: function () {}};\n")
    found = discover(tmp_path)
    assert list(found) == ["acme"] and found["acme"].name == "Snap Pixel"
    assert found["acme"].js.endswith('KINDS.acme.cookies = ["_scid*", "_sctr", "_schn"];\n')
    (tmp_path / "acme" / "adapter.js").unlink()
    with pytest.raises(VendorError, match="no adapter.js"):
        discover(tmp_path)


CANONICAL = ("purchase", "add_to_cart", "view_item", "begin_checkout", "sign_up", "generate_lead", "search", "page_view")


def test_the_four_later_units_map_the_canonical_events_and_build_what_their_adapters_read(tmp_path: Path) -> None:
    for key in ("microsoft_uet", "linkedin_insight", "reddit_pixel", "x_pixel"):
        missing = [e for e in CANONICAL if e not in VENDORS[key].events]
        assert key == "reddit_pixel" and missing == ["begin_checkout"] or missing == [], (key, missing)
    config = _tags(tmp_path, """
  - {id: uet, category: marketing, trigger: {type: page_view}, microsoft_uet: {ti: "187654321"}}
  - {id: uet-buy, category: marketing, trigger: {type: event, event: purchase}, microsoft_uet: {ti: "187654321"}}
  - {id: li, category: marketing, trigger: {type: page_view}, linkedin_insight: {partner_id: "1234567"}}
  - {id: li-buy, category: marketing, trigger: {type: event, event: purchase},
     linkedin_insight: {partner_id: "1234567", conversion_id: 7654321}}
  - {id: rd, category: marketing, trigger: {type: page_view}, reddit_pixel: {pixel_id: a2_abcdef123456}}
  - {id: rd-buy, category: marketing, trigger: {type: event, event: purchase}, reddit_pixel: {pixel_id: a2_abcdef123456}}
  - {id: rd-checkout, category: marketing, trigger: {type: event, event: begin_checkout}, reddit_pixel: {pixel_id: a2_abcdef123456}}
  - {id: x, category: marketing, trigger: {type: page_view}, x_pixel: {pixel_id: o8z6j}}
  - {id: x-buy, category: marketing, trigger: {type: event, event: purchase}, x_pixel: {pixel_id: o8z6j, event_id: o8z21}}
""")
    compiled = {tag.id: tag.compiled for tag in config.tags}
    assert compiled == {
        "uet": {"ti": "187654321", "event": "pageLoad", "page": True},
        "uet-buy": {"ti": "187654321", "event": "purchase"},
        "li": {"partner_id": "1234567", "page": True, "event": "pageview"},
        "li-buy": {"partner_id": "1234567", "event": "7654321"},
        "rd": {"pixel_id": "a2_abcdef123456", "event": "PageVisit"},
        "rd-buy": {"pixel_id": "a2_abcdef123456", "event": "Purchase"},
        "rd-checkout": {"pixel_id": "a2_abcdef123456", "event": "begin_checkout", "custom": True},
        "x": {"pixel_id": "o8z6j", "page": True, "event": "PageView"},
        "x-buy": {"pixel_id": "o8z6j", "event": "tw-o8z6j-o8z21"},
    }
    rules = {(host, path) for host, path, _ in firewall_rules(config)}
    assert rules == {("bat.bing.com", ""), ("bat.r.msn.com", ""), ("snap.licdn.com", ""), ("px.ads.linkedin.com", ""),
                     ("www.redditstatic.com", "/ads/"), ("alb.reddit.com", ""), ("pixel-config.reddit.com", ""),
                     ("static.ads-twitter.com", ""), ("analytics.twitter.com", ""), ("t.co", "")}
    assert 'KINDS.microsoft_uet.cookies = ["_uetsid", "_uetvid", ' in kind_js("microsoft_uet")
    assert 'KINDS.reddit_pixel.cookies = ["_rdt_uuid", ' in kind_js("reddit_pixel")
    assert 'KINDS.x_pixel.cookies = ["_twclid"]' in kind_js("x_pixel")
    assert 'KINDS.linkedin_insight.cookies = ["li_fat_id", ' in kind_js("linkedin_insight")


@pytest.mark.parametrize("spec", [
    "microsoft_uet: {ti: UET-1}", "linkedin_insight: {partner_id: \"1234567\", conversion_id: abc}",
    "reddit_pixel: {pixel_id: 12345}", "x_pixel: {pixel_id: o8z6j, event_id: tw-o8z6j-o8z21}",
    "linkedin_insight: {partner_id: \"1234567\", event: Purchase}",
])
def test_the_four_later_units_refuse_malformed_ids(tmp_path: Path, spec: str) -> None:
    from gateway.config import ConfigError

    with pytest.raises(ConfigError):
        _tags(tmp_path, f"  - {{id: t, category: marketing, trigger: {{type: page_view}}, {spec}}}\n")


def test_the_later_adapters_are_es5_and_read_no_config_as_code() -> None:
    import re

    for key in ("microsoft_uet", "linkedin_insight", "reddit_pixel", "x_pixel"):
        source = re.sub(r"/\*.*?\*/|(?:^|\s)//[^\n]*", "", (ROOT / key / "adapter.js").read_text(), flags=re.S | re.M)
        assert not re.search(r"\b(let|const|class)\s|=>|`", source), key
        assert "eval(" not in source and "new Function" not in source and "map()" in source, key


def test_validate_warns_about_linkedin_and_x_tags_that_can_send_no_conversion(tmp_path: Path, capsys) -> None:
    from gateway.cli import main

    _tags(tmp_path, """
  - {id: li-base, category: marketing, trigger: {type: page_view}, linkedin_insight: {partner_id: "1234567"}}
  - {id: li-buy, category: marketing, trigger: {type: event, event: purchase}, linkedin_insight: {partner_id: "1234567"}}
  - {id: li-ok, category: marketing, trigger: {type: event, event: purchase},
     linkedin_insight: {partner_id: "1234567", conversion_id: 7654321}}
  - {id: x-base, category: marketing, trigger: {type: history_change}, x_pixel: {pixel_id: o8z6j}}
  - {id: x-lead, category: marketing, trigger: {type: form_submit}, x_pixel: {pixel_id: o8z6j}}
  - {id: x-params, category: marketing, trigger: {type: page_view}, x_pixel: {pixel_id: o8z6j, params: {value: "1"}}}
  - {id: x-ok, category: marketing, trigger: {type: event, event: sign_up}, x_pixel: {pixel_id: o8z6j, event_id: o8z21}}
""")
    assert main(["validate", str(tmp_path)]) == 0  # warnings, not errors: the tags are valid and ship
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "").splitlines()
    assert err == [
        "tags.yaml:4: tags[1].linkedin_insight: warning: tag 'li-buy' has no conversion_id: it only loads the "
        "LinkedIn Insight Tag (its page view) and sends no conversion on 'purchase'; add conversion_id: the numeric id "
        "of a conversion created in Campaign Manager (of the type PURCHASE)",
        "tags.yaml:8: tags[4].x_pixel: warning: tag 'x-lead' has no event_id: it only loads the X Pixel (its page "
        "view) and sends no conversion on 'form_submit'; add event_id: the event id X Events Manager shows after "
        "tw-<pixel id>-",
        "tags.yaml:9: tags[5].x_pixel: warning: tag 'x-params' has no event_id: it only loads the X Pixel (its page "
        "view) and its params are never sent; add event_id: the event id X Events Manager shows after tw-<pixel id>- "
        "(of the type PageView)",
    ]

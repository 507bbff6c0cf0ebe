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
    assert {"ga4", "google_ads", "meta_pixel", "tiktok_pixel", "pinterest", "snap_pixel"} <= set(VENDORS)
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
    ("name: X\naccount_key: id\nhosts: [x.example]\n", "missing \\['parameters'\\]"),
    ("name: X\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\nhots: []\n",
     "unknown \\['hots'\\]"),
    ("name: X\naccount_key: id\nhosts: ['https://x.example']\nparameters: {type: object, required: [id]}\n", "hosts"),
    ("name: X\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [other]}\n", "requiring 'id'"),
    ("name: X\naccount_key: id\nhosts: [x.example]\nparameters: {type: object, required: [id]}\ncookies: ['a b']\n",
     "cookies"),
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

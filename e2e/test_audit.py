"""`gateway audit` as a store's CI runs it: a subprocess against the real gateway serving a store.

The example store is clean for DE, US-CA and with GPC; a broken page (a Meta pixel hard-coded before the
container) is exit 1 with the request named in text, JSON and JUnit, which also list the cookies and
storage keys it writes before a choice; a font CDN is a violation until it is allowed with --allow-host;
in opt-out regions the store's own opt-out link, the notice's link or its "Your Privacy Choices" link is
used (and named); an unreachable store and a page without the container get their own exit codes. Short
waits and one or two pages keep these fast.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gateway import audit
from gateway.cli import build_parser

from .support import DEFAULT_CONFIG_DIR, REPO, free_port

FAST = ("--wait", "300")
PIXEL = "https://www.facebook.com/tr/?id=1&ev=PageView"
FONTS = "https://fonts.example.com/css2?family=Inter"
# Deliberately written by the broken page before any choice: a tracking cookie and a storage key.
EARLY_WRITES = "<script>document.cookie='shop_uid=42; path=/'; localStorage.setItem('shop_visitor', '42');</script>"


def run_audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", "audit", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _page(body: str, container: bool = True, head: str = "") -> str:
    script = '<script src="/container.js" async></script>' if container else ""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>t</title>{head}{script}</head>"
            f"<body>{body}</body></html>")


@pytest.fixture
def broken_store(tmp_path: Path, gateway_factory):
    store = tmp_path / "broken_store"
    store.mkdir()
    # Deliberately broken: a pixel pasted into the page before the container, and early writes; the font
    # CDN's stylesheet is harmless once allowed.
    (store / "index.html").write_text(_page('<h1>Shop</h1><a href="about.html">About</a>',
                                            head=f'<link rel="stylesheet" href="{FONTS}"><img src="{PIXEL}" alt="">'
                                                 + EARLY_WRITES))
    (store / "about.html").write_text(_page("<h1>About</h1>"))
    return gateway_factory(DEFAULT_CONFIG_DIR, store)


def test_the_example_store_is_clean_for_de_and_california(gateway):
    done = run_audit(gateway.url + "/", "--pages", "2", "--region", "DE", "--region", "US-CA", *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "DE: without a choice -> gateway decided DE (opt_in)" in out, out
    assert "US-CA: after refusing -> gateway decided US-CA (opt_out)" in out, out
    assert "Do Not Sell or Share" in out, out
    # After accepting, the decoded events fired are listed; before a choice in California cookies are listed.
    accept_de = out.split("DE: after Accept all", 1)[1].split("US-CA:", 1)[0]
    assert "meta_pixel" in accept_de and "PageView" in accept_de and "ga4" in accept_de, out
    assert re.search(r"cookies before a choice: .*_fbp", out), out
    assert "no violations; exit 0" in out, out


def test_the_example_store_is_clean_with_gpc_and_names_tags_from_the_config(gateway):
    done = run_audit(gateway.url + "/product.html", "--pages", "1", "--region", "US-CA", "--gpc",
                     "--config", str(DEFAULT_CONFIG_DIR), "--format", "json", *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["gpc"] is True and report["violations"] == [] and report["exit_code"] == 0
    phases = {p["phase"]: p for p in report["phases"]}
    assert phases["no_choice"]["rule"] == "opt_out" and phases["no_choice"]["code"] == "US-CA"
    fired = {e["tag"] for e in phases["accept"]["fired"]}
    assert "ga4" in fired, phases["accept"]["fired"]


def test_a_pixel_hard_coded_before_the_container_is_a_violation_in_every_format(broken_store, tmp_path):
    url = broken_store.url + "/"
    text = run_audit(url, "--pages", "1", "--region", "DE", *FAST)
    assert text.returncode == 1, text.stdout + text.stderr
    assert "VIOLATION" in text.stdout and "facebook.com/tr/?id=1&ev=PageView" in text.stdout, text.stdout
    assert "meta_pixel PageView" in text.stdout and "third-party request before a choice" in text.stdout
    assert "third-party request after Reject all" in text.stdout, text.stdout
    # Without --allow-host the font CDN is an unknown third party like any other.
    assert f"GET {FONTS}  unknown: third-party request before a choice" in text.stdout, text.stdout
    assert re.search(r"cookies before a choice: .*shop_uid \(127\.0\.0\.1, session\)", text.stdout), text.stdout
    assert "storage keys before a choice: localStorage:shop_visitor" in text.stdout, text.stdout

    as_json = run_audit(url, "--pages", "1", "--region", "DE", "--format", "json", "--allow-host", "example.com",
                        *FAST)
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    [first, *_] = report["violations"]
    assert first["url"] == PIXEL and first["vendor"] == "meta_pixel" and first["event"] == "PageView", first
    assert first["phase"] == "no_choice" and first["region"] == "DE" and first["page"] == url, first
    assert [v for v in report["violations"] if "fonts.example.com" in v["url"]] == [], report["violations"]
    assert report["allow_hosts"] == ["example.com"]
    phases = {p["phase"]: p for p in report["phases"]}
    assert "fonts.example.com" in phases["no_choice"]["allowed"], phases["no_choice"]
    assert {"name": "shop_uid", "domain": "127.0.0.1", "expires": "session"} in phases["no_choice"]["cookies"]
    assert {"kind": "localStorage", "key": "shop_visitor", "page": url} in phases["no_choice"]["storage"]

    junit = run_audit(url, "--pages", "1", "--region", "DE", "--format", "junit", *FAST)
    assert junit.returncode == 1, junit.stderr
    suite = ET.fromstring(junit.stdout).find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert {"DE: without a choice", "DE: after refusing", "DE: after Accept all"} <= set(cases), cases
    failure = cases["DE: without a choice"].find("failure")
    assert failure is not None and "facebook.com/tr/?id=1" in failure.text, junit.stdout
    assert cases["DE: after Accept all"].find("failure") is None
    assert int(suite.get("failures")) >= 1
    written = cases["DE: without a choice"].find("system-out").text
    assert "shop_uid (127.0.0.1, session)" in written and "localStorage:shop_visitor" in written, written


OPT_OUT_FOOTER = ('<footer><a href="#" onclick="tagGateway.optOut(); return false;">'
                  "Do Not Sell or Share My Personal Information</a></footer>")


def test_in_california_the_stores_own_opt_out_link_is_used_and_named(tmp_path, gateway_factory):
    store = tmp_path / "store"
    store.mkdir()
    (store / "index.html").write_text(_page("<h1>Shop</h1>" + OPT_OUT_FOOTER))
    server = gateway_factory(DEFAULT_CONFIG_DIR, store)
    done = run_audit(server.url + "/", "--pages", "1", "--region", "US-CA", "--format", "json", *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = {p["phase"]: p for p in json.loads(done.stdout)["phases"]}["reject"]
    assert refused["rule"] == "opt_out" and "opted out with the store's own opt-out link" in refused["notes"], refused


def test_with_your_privacy_choices_the_audit_refuses_sale_in_the_preferences(tmp_path, gateway_factory):
    configs = tmp_path / "configs"
    configs.mkdir()
    for source in DEFAULT_CONFIG_DIR.glob("*.yaml"):
        (configs / source.name).write_text(source.read_text())
    site = configs / "site.yaml"
    site.write_text(site.read_text().replace("  default: opt_in\n", "  default: opt_in\n  opt_out_link: privacy_choices\n"))
    assert "privacy_choices" in site.read_text()
    server = gateway_factory(configs)
    done = run_audit(server.url + "/", "--pages", "1", "--region", "US-CA", "--config", str(configs), *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = done.stdout.split("US-CA: after refusing", 1)[1].split("US-CA: after Accept all", 1)[0]
    assert ('note: opted out with the notice\'s "Your Privacy Choices" link, sale/sharing switched off in the '
            "preferences") in refused, done.stdout


def test_an_unreachable_store_has_its_own_exit_code():
    done = run_audit(f"http://127.0.0.1:{free_port()}/", "--pages", "1", *FAST)
    assert done.returncode == audit.EXIT_UNREACHABLE == 3, done.stdout + done.stderr
    assert "store unreachable" in done.stderr, done.stderr


def test_a_page_without_the_container_has_its_own_exit_code(tmp_path, gateway_factory):
    store = tmp_path / "store"
    store.mkdir()
    (store / "index.html").write_text(_page("<h1>Forgot the container</h1>", container=False))
    server = gateway_factory(DEFAULT_CONFIG_DIR, store)
    done = run_audit(server.url + "/", "--pages", "1", "--region", "DE", *FAST)
    assert done.returncode == audit.EXIT_NO_CONTAINER == 4, done.stdout + done.stderr
    assert "WITHOUT the container" in done.stdout and server.url + "/" in done.stdout, done.stdout


def test_a_region_the_gateway_does_not_grant_is_reported_as_decided():
    result = audit.PhaseResult(region="DE", phase="no_choice")

    class Answer:
        def json(self):
            return {"region": {"code": None, "rule": "opt_in"}}

    crawl = audit._RegionAudit.__new__(audit._RegionAudit)
    crawl.region = "DE"
    crawl._decided(result, [Answer()])
    assert result.rule == "opt_in" and "asked for DE, but the gateway decided an unknown place" in result.notes[0]


def test_the_readme_documents_every_audit_option():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### `gateway audit`", 1)[1].split("\n## ", 1)[0]
    parser = build_parser()._subparsers._group_actions[0].choices["audit"]
    options = {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    assert options == set(re.findall(r"^\* `(--[a-z-]+)", section, re.M))
    assert "--allow-host" in options
    for code in range(5):
        assert f"`{code}`" in section


def test_allow_host_takes_host_names_only():
    done = run_audit("http://127.0.0.1:9/", "--allow-host", "https://fonts.example.com/css")
    assert done.returncode == audit.EXIT_ERROR == 2, done.stdout + done.stderr
    assert "--allow-host takes a host name (e.g. fonts.example.com), not 'https://fonts.example.com/css'" in done.stderr
    assert audit.allowed_host("cdn.fonts.example.com", ["fonts.example.com"])
    assert not audit.allowed_host("evilfonts.example.com", ["fonts.example.com"])

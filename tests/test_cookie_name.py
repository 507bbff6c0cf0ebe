"""site.cookie_name: the consent cookie's name, for stores that would otherwise share `tg_consent` (two stores on
one host or under one cookie_domain overwrite each other's choice, and each reads the other's token as no
choice). What a store relies on: the gateway sets and reads the name it is given, the container writes it, a
name browsers or the container would mishandle is refused with its file and line, and sites of one root that
would share a cookie are named in a warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.cli import main
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.live_config import LiveConfig
from gateway.sites import check_sites, detect_layout

from conftest import SECRET, STORE_ORIGIN

ROOT = Path(__file__).resolve().parent.parent
CHOICE = {"categories": ["analytics"], "action": "custom"}


def named(config_dir: Path, name: str) -> Path:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("site:\n", f"site:\n  cookie_name: {name}\n", 1))
    return config_dir


def test_the_default_name_is_tg_consent(config_dir: Path) -> None:
    assert load_config(config_dir).site.cookie_name == "tg_consent"


def test_the_gateway_sets_and_reads_the_named_cookie_and_the_container_writes_it(config_dir: Path,
                                                                                consent_log) -> None:
    named(config_dir, "shop_a_consent")
    live = LiveConfig.load(config_dir)
    with TestClient(create_app(live, SECRET, consent_log, watch=False), base_url="http://gateway.test") as client:
        answer = client.post("/consent", json=CHOICE, headers={"Origin": STORE_ORIGIN})
        assert answer.status_code == 200
        token = answer.json()["token"]
        assert answer.headers["set-cookie"].startswith(f"shop_a_consent={token};")
        client.cookies.clear()
        # Read from the cookie of its name; a token under the default name is another store's, not this one's.
        reading = client.get("/consent", headers={"Origin": STORE_ORIGIN, "Cookie": f"tg_consent={token}"}).json()
        assert reading["consent"] is None
        reading = client.get("/consent", headers={"Origin": STORE_ORIGIN, "Cookie": f"shop_a_consent={token}"}).json()
        assert reading["reason"] == "valid" and reading["consent"]["categories"] == ["necessary", "analytics"]
        container = client.get("/container.js").text
        assert '"cookie":{"name":"shop_a_consent"' in container.replace(" ", "")


@pytest.mark.parametrize("name", ["__Host-consent", "_consent", "1consent", "my consent", "consent;x", "c" * 65, ""])
def test_a_name_browsers_would_mishandle_is_refused_with_its_line(config_dir: Path, name: str) -> None:
    named(config_dir, json.dumps(name))
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    [problem] = caught.value.problems
    assert problem.file.endswith("site.yaml") and problem.line == 7 and problem.path == "site.cookie_name"
    assert "letters, digits" in problem.message


def test_a_vendor_cookie_pattern_that_matches_the_name_is_refused(config_dir: Path) -> None:
    named(config_dir, "ttcsid_store")  # TikTok's ttcsid* cookies are removed whenever TikTok is not allowed
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    [problem] = caught.value.problems
    assert problem.file.endswith("site.yaml") and problem.line == 7 and problem.path == "site.cookie_name"
    assert "TikTok" in problem.message and "'ttcsid*'" in problem.message and "choose another" in problem.message


def two_sites(tmp_path: Path, first: str, second: str) -> Path:
    """A root of two copies of the example store, with their own site.id and these site.yaml lines added."""
    root = tmp_path / "stores"
    for name, extra in (("alpha", first), ("beta", second)):
        shutil.copytree(ROOT / "tag_configs", root / name)
        site = root / name / "site.yaml"
        site.write_text(site.read_text().replace("site:\n", f"site:\n  id: {name}\n{extra}", 1))
    return root


def test_sites_of_a_root_on_one_host_with_one_cookie_name_are_warned_about(tmp_path: Path, capsys,
                                                                           monkeypatch) -> None:
    root = two_sites(tmp_path, "", "")  # both on http://127.0.0.1:* and http://localhost:*
    results = check_sites(detect_layout(root))
    assert results["alpha"].warnings == () or all("cookie_name" not in str(w) for w in results["alpha"].warnings)
    [warning] = [w for w in results["beta"].warnings if w.path == "site.cookie_name"]
    assert "site 'alpha'" in warning.message and "give each site its own site.cookie_name" in warning.message
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "stores"]) == 0  # a warning: a root that ran before keeps running
    assert "stores/beta/site.yaml: site.cookie_name: warning: this site and site 'alpha'" in capsys.readouterr().err


@pytest.mark.parametrize("first,second,shared", [
    ("  cookie_name: alpha_consent\n", "", False),                            # named apart
    ("  cookie_domain: shop.example\n", "  cookie_domain: shop.example\n", True),
    ("  cookie_domain: shop.example\n", "  cookie_domain: other.example\n", False),
])
def test_which_sites_share_a_cookie(tmp_path: Path, first: str, second: str, shared: bool) -> None:
    results = check_sites(detect_layout(two_sites(tmp_path, first, second)))
    assert any(w.path == "site.cookie_name" for w in results["beta"].warnings) is shared


def test_a_parent_domain_cookie_meets_a_subdomain_host(tmp_path: Path) -> None:
    root = two_sites(tmp_path, "  cookie_domain: shop.example\n", "")
    beta = root / "beta" / "site.yaml"
    text = beta.read_text()
    beta.write_text(text.replace("    - http://127.0.0.1:*\n    - http://localhost:*\n", "    - https://de.shop.example\n"))
    results = check_sites(detect_layout(root))
    assert any(w.path == "site.cookie_name" for w in results["beta"].warnings)

"""The owner's preview: its signed token, GET /preview.js (and per site), and `gateway preview`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import itsdangerous.timed
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from conftest import ROOT, SECRET
from gateway.app import create_app
from gateway.config import load_config
from gateway.consent import ConsentSigner, site_claim
from gateway.email_pixel import EmailTokens
from gateway.live_config import LiveConfig
from gateway.preview import MAX_MINUTES, PreviewTokens, preview_link
from gateway.sites import LiveSites

OTHER_SECRET = "another-secret-" + "y" * 40
STRONG_SECRET = "9f1c2e7ab43d5068e1f2a3b4c5d6e7f80912a3b4c5d6e7f8091a2b3c4d5e6f70"  # what `gateway serve` accepts


def _at(monkeypatch, moment: float) -> None:
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: moment)


def script(client, token, path="/preview.js"):
    return client.get(path, params={} if token is None else {"t": token})


def test_a_token_round_trips_and_serves_the_panel_with_the_sites_tags(client, live) -> None:
    site = live.current.config.site
    token = PreviewTokens(SECRET).issue(site, 30)
    preview = PreviewTokens(SECRET).read(token, site)
    assert preview is not None and abs(preview.expires - (time.time() + 30 * 60)) < 5
    response = script(client, token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.text
    assert "Google Analytics 4 - purchases" in body  # tag names: only here, never in the container
    assert "meta-purchase" in body and "attachShadow" in body
    assert "__tg_preview__" not in body and "let " not in body


def test_key_rotation_verifies_tokens_of_the_old_secret(live) -> None:
    site = live.current.config.site
    old = PreviewTokens(OTHER_SECRET).issue(site)
    assert PreviewTokens([SECRET, OTHER_SECRET]).read(old, site) is not None
    new = PreviewTokens([SECRET, OTHER_SECRET]).issue(site)
    assert PreviewTokens(SECRET).read(new, site) is not None  # signed with the newest
    assert PreviewTokens(OTHER_SECRET).read(new, site) is None


def test_an_expired_token_is_refused(client, live, monkeypatch) -> None:
    site = live.current.config.site
    _at(monkeypatch, time.time() - 61 * 60)
    token = PreviewTokens(SECRET).issue(site, 60)
    monkeypatch.undo()
    assert PreviewTokens(SECRET).read(token, site) is None
    response = script(client, token)
    assert response.status_code == 403
    assert response.text.startswith("/*") and response.text.rstrip().endswith("*/")  # a comment, no code
    assert response.headers["cache-control"] == "no-store"
    # Still within its own minutes: valid.
    _at(monkeypatch, time.time() - 59 * 60)
    fresh = PreviewTokens(SECRET).issue(site, 60)
    monkeypatch.undo()
    assert script(client, fresh).status_code == 200


def test_minutes_are_bounded(live) -> None:
    site = live.current.config.site
    for bad in (0, MAX_MINUTES + 1, -5, True, "60"):
        with pytest.raises(ValueError):
            PreviewTokens(SECRET).issue(site, bad)
    # A token that claims more than the maximum (signed by someone holding the secret) is refused too.
    forged = URLSafeTimedSerializer([SECRET], salt="tag-gateway.preview.v1").dumps({"s": site_claim(site), "m": 100000})
    assert PreviewTokens(SECRET).read(forged, site) is None


def test_forged_other_salt_and_other_secret_tokens_get_403(client, live) -> None:
    site = live.current.config.site
    good = PreviewTokens(SECRET).issue(site)
    consent_token, _ = ConsentSigner(SECRET).issue(("necessary",), 1, site=site)
    email_token, _ = EmailTokens(SECRET).issue("spring", "ada@example.com", True)
    other_salt = URLSafeTimedSerializer([SECRET], salt="tag-gateway.email-open.v1").dumps(
        {"s": site_claim(site), "m": 60})
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    payload_swapped = URLSafeTimedSerializer("x").dumps({"s": site_claim(site), "m": 480}).split(".")[0] + \
        "." + ".".join(good.split(".")[1:])
    for token in (PreviewTokens(OTHER_SECRET).issue(site), consent_token, email_token, other_salt, tampered,
                  payload_swapped, "", None):
        response = script(client, token)
        assert response.status_code == 403, token
        assert "attachShadow" not in response.text and "meta-purchase" not in response.text


def test_a_token_of_another_site_is_refused(tmp_path, consent_log) -> None:
    root = tmp_path / "stores"
    for name, origin in (("shoes", "http://127.0.0.1:5001"), ("hats", "http://127.0.0.1:5002")):
        shutil.copytree(ROOT / "tag_configs", root / name)
        site_yaml = root / name / "site.yaml"
        site_yaml.write_text(site_yaml.read_text().replace("site:\n", f"site:\n  id: {name}\n", 1))
    sites = LiveSites.load(root)
    shoes, hats = (sites.sites[n].current.config.site for n in ("shoes", "hats"))
    token = PreviewTokens(SECRET).issue(shoes)
    assert PreviewTokens(SECRET).read(token, hats) is None
    with TestClient(create_app(sites, SECRET, consent_log, watch=False), base_url="http://gateway.test") as client:
        assert script(client, token, "/c/shoes/preview.js").status_code == 200
        assert script(client, token, "/c/hats/preview.js").status_code == 403
        assert script(client, token, "/c/nowhere/preview.js").status_code == 403
        assert script(client, token, "/preview.js").status_code == 403  # no one-site layout here


def test_a_token_of_another_gateway_config_is_refused(client, tmp_path) -> None:
    other = tmp_path / "other"
    shutil.copytree(ROOT / "tag_configs", other)
    (other / "site.yaml").write_text((other / "site.yaml").read_text().replace("site:\n", "site:\n  id: other\n", 1))
    token = PreviewTokens(SECRET).issue(load_config(other).site)
    assert script(client, token).status_code == 403


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.one_of(st.text(max_size=600), st.sampled_from(["", ".", "..", "a.b.c", "eyJ9.x.y", "e30.AAAAAA.AAAA",
                                                                 ".eJw.AAAA.BBBB", "x" * 513])),
       method=st.sampled_from(["GET", "HEAD", "POST"]), site=st.sampled_from(["", "/c/x", "/c/%2e%2e"]))
def test_garbage_never_gets_a_500(client, token, method, site) -> None:
    response = client.request(method, f"{site}/preview.js", params={"t": token})
    assert response.status_code < 500
    if method == "GET" and response.status_code == 403:
        assert response.text.startswith("/*")


def test_the_preview_link_keeps_the_page_and_replaces_an_old_token() -> None:
    link = preview_link("https://shop.example/checkout?step=2&tg_preview=old#pay", "NEW.TOKEN")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "shop.example", "/checkout", "pay")
    assert parse_qs(parts.query) == {"step": ["2"], "tg_preview": ["NEW.TOKEN"]}


def _gateway(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "gateway", "preview", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env)


def test_the_cli_prints_a_link_the_gateway_accepts(live, consent_log, config_dir, tmp_path) -> None:
    env = dict(os.environ, TAG_GATEWAY_SECRET=STRONG_SECRET)
    done = _gateway("http://127.0.0.1:8000/product.html?id=3", "--config", str(config_dir), "--minutes", "15", env=env)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    parts = urlsplit(line)
    assert parts.path == "/product.html" and parse_qs(parts.query)["id"] == ["3"]
    [token] = parse_qs(parts.query)["tg_preview"]
    assert "valid for 15 minutes" in done.stderr
    preview = PreviewTokens(STRONG_SECRET).read(token, load_config(config_dir).site)
    assert preview is not None and abs(preview.expires - (time.time() + 15 * 60)) < 10
    with TestClient(create_app(live, STRONG_SECRET, consent_log, watch=False), base_url="http://gateway.test") as client:
        assert script(client, token).status_code == 200

    # Its mistakes, each one line on stderr and exit 2 (argparse: 2 as well).
    assert _gateway("http://x/", "--config", str(config_dir), "--minutes", "481", env=env).returncode == 2
    assert _gateway("http://x/", "--config", str(config_dir), "--minutes", "0", env=env).returncode == 2
    bad_url = _gateway("shop.example/page", "--config", str(config_dir), env=env)
    assert bad_url.returncode == 2 and "http(s)" in bad_url.stderr
    one_site = _gateway("http://x/", "--config", str(config_dir), "--site", "shoes", env=env)
    assert one_site.returncode == 2 and "leave --site out" in one_site.stderr
    no_secret = {k: v for k, v in env.items() if k != "TAG_GATEWAY_SECRET"}
    no_secret["TAG_GATEWAY_SECRET_FILE"] = str(tmp_path / "missing-secret")
    missing = _gateway("http://x/", "--config", str(config_dir), env=no_secret)
    assert missing.returncode == 2 and "no signing secret" in missing.stderr
    assert not (tmp_path / "missing-secret").exists()  # never generated here


def test_the_cli_names_the_site_of_a_root(tmp_path) -> None:
    root = tmp_path / "stores"
    for name in ("shoes", "hats"):
        shutil.copytree(ROOT / "tag_configs", root / name)
        site_yaml = root / name / "site.yaml"
        site_yaml.write_text(site_yaml.read_text().replace("site:\n", f"site:\n  id: {name}\n", 1))
    env = dict(os.environ, TAG_GATEWAY_SECRET=STRONG_SECRET)
    unnamed = _gateway("http://127.0.0.1:8000/", "--config", str(root), env=env)
    assert unnamed.returncode == 2 and "--site" in unnamed.stderr and "hats" in unnamed.stderr
    assert _gateway("http://127.0.0.1:8000/", "--config", str(root), "--site", "socks", env=env).returncode == 2
    done = _gateway("http://127.0.0.1:8000/", "--config", str(root), "--site", "hats", env=env)
    assert done.returncode == 0, done.stderr
    [token] = parse_qs(urlsplit(done.stdout.strip()).query)["tg_preview"]
    assert PreviewTokens(STRONG_SECRET).read(token, load_config(root / "hats").site) is not None
    assert PreviewTokens(STRONG_SECRET).read(token, load_config(root / "shoes").site) is None

"""/ui.js: the banner's code, out of the container (issue 9: room in the example store's budget).

The container loads it at start from <gateway>/ui.js?v=<version> (one of several sites: /c/<site>/ui.js);
its bytes are the same for every site and config, so that exact URL may be cached for good.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import brotli
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.container import build_ui_script, ui_version
from gateway.sites import LiveSites

SAMPLES = Path(__file__).resolve().parent / "samples"


def container_config(client: TestClient) -> dict:
    body = client.get("/container.js").text
    match = re.search(r'"uiv":"([0-9a-f]+)"', body)
    assert match, "the container names the banner script's version"
    return {"uiv": match.group(1), "body": body}


def test_the_container_asks_for_this_release_of_the_banner_and_does_not_carry_it(client) -> None:
    built = container_config(client)
    assert built["uiv"] == ui_version() and len(ui_version()) == 12
    assert "attachShadow" not in built["body"]  # the dialogs' code is in /ui.js only
    assert "/ui.js?v=" in built["body"]
    script = client.get(f"/ui.js?v={built['uiv']}", headers={"Accept-Encoding": "identity"})
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "attachShadow" in script.text and script.content == build_ui_script().body


def test_the_versioned_url_is_immutable_and_any_other_is_revalidated(client) -> None:
    current = client.get(f"/ui.js?v={ui_version()}")
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    for other in ("/ui.js", "/ui.js?v=0123456789ab", "/ui.js?v=%3Cscript%3E"):
        response = client.get(other)
        assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=300"
        assert response.content == current.content  # the same code: only how long it may be kept differs


def test_encodings_etags_head_and_304(client) -> None:
    url = f"/ui.js?v={ui_version()}"
    plain = client.get(url, headers={"Accept-Encoding": "identity"}).content
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip" and response.headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(b"".join(response.iter_raw())) == plain
        etag = response.headers["etag"]
    with client.stream("GET", url, headers={"Accept-Encoding": "br"}) as response:
        assert brotli.decompress(b"".join(response.iter_raw())) == plain
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    head = client.head(url, headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    assert client.post(url).status_code == 405


def test_each_site_of_a_root_has_it_and_an_unknown_site_gets_a_json_404(tmp_path: Path, consent_log, monkeypatch) -> None:
    root = tmp_path / "stores"
    shutil.copytree(SAMPLES / "multi_site", root)
    monkeypatch.setenv("TAG_GATEWAY_STATE_FILE", str(tmp_path / "state.json"))
    app = create_app(LiveSites.load(root), "test-secret-" + "u" * 40, consent_log, watch=False)
    with TestClient(app) as client:
        hats = client.get("/c/hats.js").text
        assert f'"uiv":"{ui_version()}"' in hats
        assert client.get(f"/c/hats/ui.js?v={ui_version()}").content == build_ui_script().body
        for path in ("/c/nope/ui.js", "/ui.js"):  # a root of several sites has no site at /ui.js
            response = client.get(path)
            assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_site"


def test_the_banner_script_is_es5_minified_and_names_its_release() -> None:
    body = build_ui_script().body.decode()
    assert body.startswith("/*! tag-gateway ") and " banner */" in body.splitlines()[0]
    # The dialogs' code and the auto-blocking of the store's own scripts and embeds (embeds.js): one
    # download per release, kept for good, and no byte of the container's budget.
    assert len(build_ui_script().gzipped) < 4096
    # It hands its functions over on its own <script> element, never through a global name.
    assert ".tg=" in body and "window." not in body


def test_auto_blocking_rides_in_the_banner_script_and_not_in_the_container(client) -> None:
    body = build_ui_script().body.decode()
    # embeds.js wraps what banner.js hands over on the script element, so it must come after it.
    assert 'script[type="text/plain"][data-consent]' in body and "iframe[data-consent][data-src]" in body
    assert body.index("attachShadow") < body.index("[data-consent]")
    assert "eval(" not in body and "Function(" not in body  # blocked scripts run as new <script> elements
    container = client.get("/container.js", headers={"Accept-Encoding": "identity"}).text
    assert "data-consent" not in container and "text/plain" not in container


def test_one_function_holds_the_banner_and_auto_blocking_and_their_helpers_are_defined_once() -> None:
    """consent_ui/ui_common.js, banner.js and embeds.js share one scope in /ui.js: nothing of it is a global
    a page could read or overwrite, and the DOM-clobbering-safe readers exist once (README "Layout")."""
    code = build_ui_script().body.decode("utf-8").split("\n", 1)[1]
    assert code.startswith("(function(") and code.rstrip(";\n").endswith("})(document)")
    ui = Path(__file__).resolve().parent.parent / "consent_ui"
    defining = [name for name in ("ui_common.js", "banner.js", "embeds.js")
                if re.search(r"function (real|dget|dcall)\(", (ui / name).read_text("utf-8"))]
    assert defining == ["ui_common.js"]

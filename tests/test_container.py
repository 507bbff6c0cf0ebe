"""GET /container.js: built once per config, embeds the config safely, cacheable."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.container import build_container, render_dialogs, script_safe_json
from gateway.live_config import LiveConfig

HOSTILE = "</script><script>alert(1)</script><!--"


def embedded_config(js: str) -> dict:
    match = re.search(r"\}\)\((\{.*\})\);$", js, re.S)  # (function(CONFIG){...})({...});
    assert match, "container has no CONFIG"
    return json.loads(match.group(1))


def test_container_is_javascript_with_cache_headers(client) -> None:
    response = client.get("/container.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert "content-encoding" not in response.headers
    config = embedded_config(response.text)
    assert [t["id"] for t in config["tags"]][:2] == ["ga4", "ga4-purchase"]
    assert config["categories"] == ["necessary", "analytics", "marketing"]


def test_container_is_gzipped_for_clients_that_accept_it(client) -> None:
    plain = client.get("/container.js", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/container.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] != plain.headers["etag"]  # two representations, two strong ETags
    assert zipped.content == plain.content  # the test client decodes gzip
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2


def test_if_none_match_gives_304_without_body(client) -> None:
    etag = client.get("/container.js", headers={"Accept-Encoding": "identity"}).headers["etag"]
    again = client.get("/container.js", headers={"Accept-Encoding": "identity", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    stale = client.get("/container.js", headers={"Accept-Encoding": "identity", "If-None-Match": '"0000"'})
    assert stale.status_code == 200


def test_container_stays_under_10_kb_gzipped() -> None:
    built = build_container(load_config(Path(__file__).resolve().parent.parent / "tag_configs"))
    assert len(gzip.decompress(built.gzipped)) == len(built.body)
    assert len(built.gzipped) < 10 * 1024


def test_container_is_built_once_per_config(live: LiveConfig, client, monkeypatch) -> None:
    import gateway.container as container

    minified = []
    real = container.js_minify.gzip_best
    monkeypatch.setattr(container.js_minify, "gzip_best", lambda *a, **k: minified.append(1) or real(*a, **k))
    bodies = {client.get("/container.js").content for _ in range(5)}
    assert len(bodies) == 1 and minified == []  # serving is a lookup: nothing is rendered or compressed
    container.build_container(live.current.config)
    assert minified  # the counter does see a build


def test_hostile_strings_in_config_cannot_escape_the_script(config_dir: Path, monkeypatch) -> None:
    tags = config_dir / "tags.yaml"
    text = tags.read_text().replace("        currency: EUR\n", f"        currency: '{HOSTILE}'\n")
    tags.write_text(text)
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("title: Your privacy choices", f"title: '<img src=x onerror=alert(1)>{HOSTILE}'"))
    js = build_container(load_config(config_dir)).body.decode()
    assert "</script" not in js.lower() and "<!--" not in js and "<img" not in js
    config = embedded_config(js)
    add_to_cart = next(t for t in config["tags"] if t["id"] == "meta-add-to-cart")
    assert add_to_cart["params"]["currency"] == HOSTILE  # intact as data
    # The banner markup (sent by the gateway, not in the container) is autoescaped: the title is text.
    dialogs = render_dialogs(load_config(config_dir))
    assert "&lt;img src=x onerror=alert(1)&gt;" in dialogs and "<img" not in dialogs


def test_script_safe_json_round_trips_every_special_character() -> None:
    value = {"s": "</script>\u2028\u2029<!-- & ' \" \\ \n é 🍪"}
    encoded = script_safe_json(value)
    assert not re.search(r"[<>&\u2028\u2029]", encoded)
    assert json.loads(encoded) == value


def test_only_the_tag_kinds_in_use_are_shipped(config_dir: Path) -> None:
    (config_dir / "tags.yaml").write_text("tags: []\n")
    js = build_container(load_config(config_dir)).body.decode()
    kind_defined = r"[\w$]+\.{}="  # `KINDS.meta_pixel = ...`, with KINDS renamed by the minifier
    assert not re.search(kind_defined.format("meta_pixel"), js) and "fbevents.js" not in js
    full = build_container(load_config(Path(__file__).resolve().parent.parent / "tag_configs")).body.decode()
    assert re.search(kind_defined.format("meta_pixel"), full) and not re.search(kind_defined.format("script"), full)


def test_disabled_tags_are_not_shipped(config_dir: Path) -> None:
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("  - id: tiktok-pageview\n", "  - id: tiktok-pageview\n    enabled: false\n"))
    config = embedded_config(build_container(load_config(config_dir)).body.decode())
    assert "tiktok-pageview" not in [t["id"] for t in config["tags"]]


@pytest.mark.parametrize("glob,path,matches", [
    ("/thank-you*", "/thank-you.html", True), ("/thank-you*", "/cart.html", False),
    ("/products/*", "/products/a.b", True), ("/", "/x", False), ("/a.b", "/aXb", False),
])
def test_page_view_paths_become_anchored_regexes(glob: str, path: str, matches: bool) -> None:
    from gateway.triggers import _glob_to_regex

    assert bool(re.match(_glob_to_regex(glob), path)) is matches

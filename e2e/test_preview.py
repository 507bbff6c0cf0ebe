"""The owner's preview on a real store page: a panel that says why each tag fired or not.

A preview link (what `gateway preview` prints) opens the panel, which explains a tag held by consent, a
tag whose condition was false (with the values compared), a tag that fired (and what it sent), and a
request the consent firewall stopped; it survives a page load in that tab and ends with its close button.
A visitor without the link never requests preview.js; an expired link shows nothing. The kit's
trace_tags/trace give the same account to a store's tests without the panel.
"""

from __future__ import annotations

import time

import itsdangerous.timed

from gateway.config import load_config
from gateway.preview import PreviewTokens
from gateway.testing import accept_all, trace, trace_tags

from .support import Shop

SITE = """
site:
  name: Preview Store
  allowed_origins: ["http://127.0.0.1:*"]
  policy_version: 1
  privacy_policy_url: /privacy.html
categories:
  marketing: {label: Marketing, description: Ads.}
"""

TAGS = """
tags:
  - id: heartbeat
    name: Uptime heartbeat
    category: necessary
    trigger: {type: page_view}
    image: {url: "https://heartbeat.example/p.gif", params: {page: "{{ page.path }}"}}
  - id: ads-view
    category: marketing
    trigger: {type: page_view}
    image: {url: "https://ads.example/p.gif"}
  - id: checkout-view
    category: necessary
    trigger:
      type: page_view
      conditions: [{value: "{{ page.path }}", starts_with: /checkout}]
    image: {url: "https://checkout.example/p.gif"}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<script src="/container.js" async></script></head>
<body><p>%s</p>
<!-- a store script that adds a pixel of a marketing host by itself: the firewall stops it -->
<script>setTimeout(function () { var i = new Image(); i.src = 'https://ads.example/own.gif?x=1'; }, 300);</script>
<div id="tagGateway"></div></body></html>
"""

PANEL = "[data-tag-gateway-preview]"


def _store(tmp_path):
    config_dir, store_dir = tmp_path / "config", tmp_path / "store"
    config_dir.mkdir()
    store_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(TAGS)
    (store_dir / "index.html").write_text(PAGE % ("Home", "Home"))
    (store_dir / "other.html").write_text(PAGE % ("Other", "Other <b>page</b>"))
    return config_dir, store_dir


def _token(server, config_dir, minutes=60, minted_ago=0.0):
    site = load_config(config_dir).site
    if not minted_ago:
        return PreviewTokens(server.secret).issue(site, minutes)
    real = itsdangerous.timed.time.time
    itsdangerous.timed.time.time = lambda: real() - minted_ago
    try:
        return PreviewTokens(server.secret).issue(site, minutes)
    finally:
        itsdangerous.timed.time.time = real


def _requests_to_preview(page) -> list[tuple[str, int | None]]:
    seen: list = []
    page.on("response", lambda r: seen.append((r.url, r.status)) if "/preview.js" in r.url else None)
    page.on("requestfailed", lambda r: seen.append((r.url, None)) if "/preview.js" in r.url else None)
    return seen


def row(page, tag: str, n: int = 1):
    """The panel's line for `tag` in the n-th occurrence of the current page."""
    return page.locator(PANEL).locator(".o").nth(n - 1).locator(f'[data-tag="{tag}"]')


def test_the_panel_explains_each_tag_and_survives_a_page_load(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    loaded = _requests_to_preview(page)
    shop = Shop(page, server.url, recorder).open("/?tg_preview=" + _token(server, config_dir))
    panel = page.locator(PANEL)
    panel.get_by_text("Tag preview: Preview Store").wait_for()
    assert [status for _, status in loaded] == [200]

    # Nothing chosen yet: the marketing tag is held by consent; the necessary one fired, with its request.
    heartbeat, ads, checkout = row(page, "heartbeat"), row(page, "ads-view"), row(page, "checkout-view")
    heartbeat.wait_for()
    assert heartbeat.get_attribute("data-outcome") == "fired"
    assert heartbeat.text_content() == "heartbeat (Uptime heartbeat): fired"
    assert ads.get_attribute("data-outcome") == "not-fired"
    assert 'category "Marketing" (marketing) is not allowed' in ads.text_content()
    assert "no choice yet" in ads.text_content()
    assert checkout.get_attribute("data-outcome") == "not-fired"
    assert checkout.text_content().endswith('a condition was false: the value "/", but it must be: starts with "/checkout"')
    page.locator(PANEL).get_by_text("sent: https://heartbeat.example/p.gif?page=%2F").wait_for()
    # The store's own pixel of a marketing host, stopped by the firewall, is listed with its URL.
    panel.get_by_text("Stopped by the consent firewall (img, tag ads-view not allowed): "
                      "https://ads.example/own.gif?x=1").wait_for()
    assert recorder.events("heartbeat") and not recorder.events("ads-view")

    # Accept: the held page view now fires the marketing tag; the panel shows both steps.
    accept_all(page)
    page.wait_for_function("document.querySelector('[data-tag-gateway-preview]').shadowRoot"
                           ".querySelector('.o [data-tag=\"ads-view\"][data-outcome=\"fired\"]')")
    assert "before: not fired: category" in row(page, "ads-view").locator("xpath=..").text_content()

    # Another page of the store, without the parameter: the preview goes on in this tab, with the log.
    shop.open("/other.html")
    panel.get_by_text("This page: " + server.url + "/other.html").wait_for()
    assert panel.get_by_text("Page: " + server.url + "/", exact=True).count() == 1
    assert "tg_preview" not in panel.text_content()  # the first page is logged without the token
    assert [status for _, status in loaded] == [200, 200]
    page.wait_for_function("document.querySelector('[data-tag-gateway-preview]').shadowRoot"
                           ".querySelectorAll('.o [data-tag=\"ads-view\"][data-outcome=\"fired\"]').length == 2")
    # Nothing from the page became markup of the panel.
    assert page.locator(PANEL).locator("b").count() == 1  # its own title only

    # The close button ends it: the next page loads no preview.js and shows no panel.
    panel.get_by_role("button", name="End preview").click()
    assert page.locator(PANEL).count() == 0
    shop.reload()
    page.wait_for_timeout(500)
    assert page.locator(PANEL).count() == 0
    assert len(loaded) == 2
    assert page.evaluate("sessionStorage.getItem('tg_preview')") is None


TOKEN_TAGS = """
tags:
  - id: heartbeat
    category: necessary
    trigger: {type: page_view}
    image: {url: "https://heartbeat.example/p.gif", params: {at: "{{ page.url }}"}}
  - id: ga4
    category: marketing
    trigger: {type: page_view}
    ga4: {measurement_id: G-PREVIEW01}
  - id: ga4-spa
    category: marketing
    trigger: {type: history_change}
    ga4: {measurement_id: G-PREVIEW02}
"""


def test_the_token_leaves_the_address_bar_and_the_page_urls_of_later_tags(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    (config_dir / "tags.yaml").write_text(TOKEN_TAGS)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    token = _token(server, config_dir)
    Shop(page, server.url, recorder).open(f"/?color=red&tg_preview={token}&size=9#reviews")
    page.locator(PANEL).get_by_text("Tag preview: Preview Store").wait_for()
    # Read, then gone: the rest of the address and its hash stay; the preview goes on in the tab.
    assert page.url == server.url + "/?color=red&size=9#reviews"
    assert page.evaluate("sessionStorage.getItem('tg_preview')") == token

    # The page view held for the choice fires GA4 with the address as it is now.
    accept_all(page)
    [view] = recorder.assert_fired("ga4", once=True)
    assert view.page == server.url + "/?color=red&size=9#reviews"
    # A single-page navigation: neither its page nor the one it left carries the token.
    page.evaluate("history.pushState({}, '', '/shop?x=1')")
    [spa] = recorder.assert_fired("ga4-spa", once=True)
    assert spa.page == server.url + "/shop?x=1"
    assert spa.hit.params["dr"] == server.url + "/?color=red&size=9#reviews"
    assert recorder.events("ga4-spa") and len(recorder.events("ga4")) == 1  # removing the token is no page view
    # Known and documented (README, Preview): a tag that fires before preview.js loads, such as a
    # necessary tag on the link's page view, has sent the address the link opened.
    [beat] = recorder.events("heartbeat")
    assert token in beat.params["at"]


def test_a_visitor_without_the_link_never_loads_preview_js(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    shop.open("/other.html")
    shop.settle()
    assert [u for u in seen if "preview" in u] == []
    assert page.locator(PANEL).count() == 0
    assert page.evaluate("tagGateway.trace()") is False  # no trace recorded for visitors


def test_an_expired_link_shows_nothing(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    loaded = _requests_to_preview(page)
    token = _token(server, config_dir, minutes=5, minted_ago=6 * 60)
    Shop(page, server.url, recorder).open("/?tg_preview=" + token)
    deadline = time.monotonic() + 5
    while not loaded and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)
    assert loaded and loaded[0][1] == 403
    assert page.locator(PANEL).count() == 0


def test_the_kit_reads_the_trace_without_the_panel(tmp_path, gateway_factory, context, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    trace_tags(context)
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    shop = Shop(page, server.url, recorder).open("/")
    page.wait_for_timeout(600)
    entries = trace(page, config=config_dir)
    assert entries[0] == {"kind": "occurrence", "n": 1, "type": "page_view", "name": "page_view", "path": "/",
                          "url": server.url + "/"}
    assert {"kind": "fired", "n": 1, "tag": "heartbeat"} in entries
    assert {"kind": "skipped", "n": 1, "tag": "ads-view", "why": "consent", "what": "marketing"} in entries
    assert {"kind": "skipped", "n": 1, "tag": "checkout-view", "why": 'condition false: "/" pre "/checkout"',
            "what": None} in entries
    assert {"kind": "stopped", "how": "img", "url": "https://ads.example/own.gif?x=1", "tags": ["ads-view"]} in entries
    accept_all(page)
    shop.settle()
    assert {"kind": "fired", "n": 1, "tag": "ads-view"} in trace(page)
    assert [u for u in seen if "preview.js" in u] == [] and page.locator(PANEL).count() == 0

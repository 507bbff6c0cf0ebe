"""Server-side forwarding, the container's side (issue 11): what a tag with `server_side` sends to the
gateway's POST /collect, and when, in a real Chromium.

The example store's config with: Meta and TikTok purchases `server_side: also`, the GA4 purchase `only`,
and the add-to-cart click sent to Meta and TikTok, both `also`. /collect is answered here (202, as the
gateway does) and every call recorded: the gateway's side is tested on its own.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from gateway.testing import accept_all, reject_all, withdraw

from .support import DEFAULT_CONFIG_DIR, STORE_DIR, TIKTOK_PIXEL_ID, Shop
from .test_vendor_choice import marketing_vendors, save

ALSO = {"meta-purchase", "tiktok-purchase", "meta-add-to-cart", "tiktok-add-to-cart"}
ONLY = {"ga4-purchase"}
PURCHASE_TAGS = {"meta-purchase", "tiktok-purchase", "ga4-purchase"}
CART_TAGS = {"meta-add-to-cart", "tiktok-add-to-cart"}
VENDOR_COOKIES = {"meta-purchase": {"_fbp", "_fbc"}, "tiktok-purchase": {"_ttp", "ttclid"}, "ga4-purchase": {"_ga"}}
PUSH_PURCHASE = """id => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: id, value: 12.5, currency: 'EUR',
  items: [{item_id: 'SKU-7', item_name: 'Mug', price: 12.5, quantity: 1}]}})"""


def server_side_configs(root: Path, ga4_browser_tags: bool = True) -> Path:
    """The example config with the tags above sending to /collect; without the browser GA4 tags if asked."""
    configs = root / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    data = yaml.safe_load((configs / "tags.yaml").read_text("utf-8"))
    for tag in data["tags"]:
        if tag["id"] in ALSO:
            tag["server_side"] = "also"
        if tag["id"] in ONLY:
            tag["server_side"] = "only"
    position = [t["id"] for t in data["tags"]].index("meta-add-to-cart") + 1
    data["tags"].insert(position, {
        "id": "tiktok-add-to-cart", "category": "marketing", "server_side": "also",
        "trigger": {"type": "click", "selector": ".add-to-cart"},
        "tiktok_pixel": {"pixel_id": TIKTOK_PIXEL_ID, "event": "AddToCart",
                         "params": {"value": "{{ event.element.data.price }}", "currency": "EUR"}}})
    if not ga4_browser_tags:
        data["tags"] = [t for t in data["tags"] if "ga4" not in t or t["id"] in ONLY]
    (configs / "tags.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return configs


class CollectCalls:
    """POST /collect, answered as the gateway does, every call kept (method, headers, JSON body)."""

    def __init__(self, context) -> None:
        self.calls: list[dict] = []
        context.route("**/collect", self._handle)  # after the recorder's route: this one answers first

    def _handle(self, route) -> None:
        request = route.request
        self.calls.append({"method": request.method, "url": request.url, "headers": request.all_headers(),
                           "body": json.loads(request.post_data or "null")})
        route.fulfill(status=202, content_type="application/json", body='{"accepted": true}')

    def bodies(self, tags=None) -> list[dict]:
        return [c["body"] for c in self.calls if tags is None or c["body"]["tag"] in tags]

    def by_tag(self) -> dict[str, dict]:
        found: dict[str, list] = {}
        for body in self.bodies():
            found.setdefault(body["tag"], []).append(body)
        assert all(len(v) == 1 for v in found.values()), f"a tag sent an occurrence twice: {found}"
        return {tag: bodies[0] for tag, bodies in found.items()}


@pytest.fixture
def server_side(gateway_factory, tmp_path, page, recorder, context):
    configs = server_side_configs(tmp_path)
    recorder.use_config(configs)
    return Shop(page, gateway_factory(configs).url, recorder), CollectCalls(context)


def wait_for_calls(shop: Shop, collect: CollectCalls, count: int) -> None:
    shop.recorder.wait_for(shop.page, lambda: collect.calls, count=count)
    shop.settle()  # and nothing more comes


def browser_cookies(context, names) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies() if c["name"] in names}


def test_purchase_after_accept_all_goes_to_collect_once_per_tag_with_the_pixels_event_id(server_side, context):
    shop, collect = server_side
    shop.open("/")
    accept_all(shop.page)
    shop.settle()
    assert collect.calls == []  # the page views are not server-side
    jar = browser_cookies(context, {"_fbp", "_fbc", "_ttp", "ttclid", "_ga"})
    assert {"_fbp", "_ttp"} <= set(jar), jar  # the stand-in libraries wrote them on this first page
    token = browser_cookies(context, {"tg_consent"})["tg_consent"]
    shop.recorder.clear()

    started = time.time()
    shop.page.goto(shop.base_url + "/thank-you.html?order=ORD-77", referer=shop.base_url + "/cart.html")
    shop.wait_ready()
    expect(shop.page.locator("#order-id")).to_have_text("ORD-77")
    wait_for_calls(shop, collect, 3)
    sent = collect.by_tag()
    assert set(sent) == PURCHASE_TAGS
    for call in collect.calls:
        assert call["method"] == "POST"
        assert call["url"] == shop.base_url + "/collect"
        assert call["headers"]["content-type"] == "application/json"
        assert call["headers"]["x-tag-gateway-consent"] == token
    for tag, body in sent.items():
        assert set(body) == {"tag", "event_id", "event_time", "page", "referrer", "params", "user", "cookies"}
        assert body["event_id"] == "ORD-77"  # the transaction id
        assert body["page"] == shop.base_url + "/thank-you.html?order=ORD-77"
        assert body["referrer"] == shop.base_url + "/cart.html"
        assert int(started) - 1 <= body["event_time"] <= time.time() + 1
        assert (body["params"]["value"], body["params"]["currency"]) == (59.9, "EUR")
        assert body["user"] == {}
        assert body["cookies"] == {k: v for k, v in jar.items() if k in VENDOR_COOKIES[tag]}
    # What each browser pixel gets (the adapters' params from the GA4 ecommerce push), the same on the server.
    assert sent["meta-purchase"]["params"]["content_ids"] == ["SKU-42"]
    assert sent["meta-purchase"]["params"]["num_items"] == 1
    assert sent["tiktok-purchase"]["params"]["contents"][0]["content_id"] == "SKU-42"
    assert sent["ga4-purchase"]["params"]["transaction_id"] == "ORD-77"
    assert sent["ga4-purchase"]["params"]["items"][0]["item_id"] == "SKU-42"

    # `also`: the browser pixels went too, with the same event id, so the vendor counts the purchase once.
    [meta] = shop.recorder.assert_fired("meta-purchase", once=True, value=59.9, currency="EUR")
    assert meta.params["event_id"] == "ORD-77"
    [tiktok] = shop.recorder.assert_fired("tiktok-purchase", once=True, value=59.9, currency="EUR")
    assert tiktok.params["event_id"] == "ORD-77"
    # `only`: no GA4 purchase from the browser; the GA4 page view (a browser-only tag) still goes.
    assert shop.recorder.ga4("purchase") == []
    shop.recorder.assert_fired("ga4", once=True)
    shop.recorder.assert_fired("meta-pageview", once=True)


def test_a_purchase_held_until_the_choice_goes_to_collect_once_after_accept(server_side):
    """Sent after the choice, with the time of the purchase (the push as the page loaded), not of the click."""
    shop, collect = server_side
    opened = time.time()
    shop.open("/thank-you.html")
    loaded = time.time()
    expect(shop.banner).to_be_visible()
    shop.settle()
    assert collect.calls == []  # no choice yet: nothing leaves

    shop.page.wait_for_timeout(3000)
    chosen = time.time()
    accept_all(shop.page)
    wait_for_calls(shop, collect, 3)
    sent = collect.by_tag()
    assert set(sent) == PURCHASE_TAGS
    assert {body["event_id"] for body in sent.values()} == {"ORD-1001"}
    for body in sent.values():
        assert int(opened) <= body["event_time"] <= loaded + 1 < chosen - 1, (body["event_time"], opened, loaded, chosen)
    assert all(call["headers"].get("x-tag-gateway-consent") for call in collect.calls)
    [meta] = shop.recorder.assert_fired("meta-purchase", once=True)
    assert meta.params["event_id"] == "ORD-1001"


def test_a_tiktok_page_view_sent_both_ways_has_one_event_id_in_the_pixel_and_at_collect(gateway_factory, tmp_path, page,
                                                                                       recorder, context):
    """ttq.page() takes no event id; a page view sent both ways goes as ttq.track('Pageview') with the id that
    /collect gets, so TikTok counts it once. Held until the choice, it is sent once after it, stamped with the
    time of the page view."""
    configs = server_side_configs(tmp_path)
    data = yaml.safe_load((configs / "tags.yaml").read_text("utf-8"))
    for tag in data["tags"]:
        if tag["id"] == "tiktok-pageview":
            tag["server_side"] = "also"
    (configs / "tags.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    recorder.use_config(configs)
    shop, collect = Shop(page, gateway_factory(configs).url, recorder), CollectCalls(context)
    opened = time.time()
    shop.open("/product.html")
    shop.page.wait_for_timeout(2500)
    chosen = time.time()
    accept_all(shop.page)
    wait_for_calls(shop, collect, 1)
    [body] = collect.bodies()
    assert body["tag"] == "tiktok-pageview" and body["page"] == shop.base_url + "/product.html"
    assert re.fullmatch(r"[0-9a-f]{32}", body["event_id"]), body
    assert int(opened) <= body["event_time"] < chosen - 1
    [pixel] = recorder.assert_fired("tiktok-pageview", once=True)
    assert pixel.event == "Pageview" and pixel.params["event_id"] == body["event_id"]

    # The next page view: a new id, both ways alike.
    recorder.clear()
    shop.open("/")
    wait_for_calls(shop, collect, 2)
    second = collect.bodies()[1]
    [pixel] = recorder.assert_fired("tiktok-pageview", once=True)
    assert pixel.params["event_id"] == second["event_id"] != body["event_id"]


def test_nothing_goes_to_collect_after_reject_all(server_side):
    shop, collect = server_side
    shop.open("/thank-you.html")
    reject_all(shop.page)
    shop.page.evaluate(PUSH_PURCHASE, "ORD-2")
    shop.open("/thank-you.html?order=ORD-3")
    shop.settle()
    assert collect.calls == []
    shop.recorder.assert_silent(categories=["analytics", "marketing"])


def test_add_to_cart_gets_one_generated_id_for_browser_and_server_and_withdrawal_stops_the_next(server_side):
    shop, collect = server_side
    shop.open("/product.html")
    accept_all(shop.page)
    shop.settle()
    shop.recorder.clear()

    shop.page.locator(".add-to-cart").click()
    wait_for_calls(shop, collect, 2)
    sent = collect.by_tag()
    assert set(sent) == CART_TAGS
    ids = {body["event_id"] for body in sent.values()}
    assert len(ids) == 1, "the tags handling one click share its event id"
    [event_id] = ids
    assert re.fullmatch(r"[0-9a-f]{32}", event_id), event_id
    assert sent["meta-add-to-cart"]["params"] == {"content_ids": ["SKU-42"], "value": "49.90", "currency": "EUR",
                                                  "content_type": "product"}
    assert sent["tiktok-add-to-cart"]["params"] == {"value": "49.90", "currency": "EUR"}
    [meta] = shop.recorder.assert_fired("meta-add-to-cart", once=True)
    [tiktok] = shop.recorder.assert_fired("tiktok-add-to-cart", once=True)
    assert meta.params["event_id"] == tiktok.params["event_id"] == event_id

    # The next click is another occurrence: another id.
    shop.page.locator(".add-to-cart").click()
    wait_for_calls(shop, collect, 4)
    second = {body["event_id"] for body in collect.bodies()[2:]}
    assert len(second) == 1 and second != ids

    # Withdrawn mid-page: the next click sends nothing, to the vendors or to /collect.
    withdraw(shop.page)
    shop.settle()
    before, events = len(collect.calls), len(shop.recorder.events("meta-add-to-cart"))
    shop.page.locator(".add-to-cart").click()
    shop.page.evaluate(PUSH_PURCHASE, "ORD-4")
    shop.settle()
    assert len(collect.calls) == before
    assert len(shop.recorder.events("meta-add-to-cart")) == events


def test_ga4_only_without_browser_ga4_tags_never_loads_gtag_for_it(gateway_factory, tmp_path, page, recorder, context):
    configs = server_side_configs(tmp_path, ga4_browser_tags=False)
    recorder.use_config(configs)
    shop, collect = Shop(page, gateway_factory(configs).url, recorder), CollectCalls(context)
    shop.open("/thank-you.html")
    accept_all(shop.page)
    wait_for_calls(shop, collect, 3)
    assert collect.by_tag()["ga4-purchase"]["params"]["value"] == 59.9
    assert recorder.ga4_requests() == []
    assert [r.url for r in recorder.requests if "G-EXAMPLE123" in r.url] == []
    recorder.assert_fired("google-ads-conversion", once=True)  # gtag.js for Google Ads only


def test_a_refused_vendor_sends_nothing_to_collect(gateway_factory, tmp_path, page, recorder, context):
    configs = server_side_configs(tmp_path)
    site = (configs / "site.yaml").read_text()
    (configs / "site.yaml").write_text(site.replace("  auto_blocking: true\n", "  auto_blocking: true\n  vendor_choice: true\n"))
    recorder.use_config(configs)
    shop, collect = Shop(page, gateway_factory(configs).url, recorder), CollectCalls(context)
    shop.open("/thank-you.html")
    shop.button(shop.banner, "Customize").click()
    for name in ("Analytics", "Marketing"):
        shop.preferences.get_by_role("checkbox", name=name, exact=True).check()
    marketing_vendors(shop).get_by_role("checkbox", name="TikTok Pixel").uncheck()
    save(shop)
    wait_for_calls(shop, collect, 2)
    assert set(collect.by_tag()) == {"meta-purchase", "ga4-purchase"}
    assert recorder.events("tiktok-purchase") == []


def test_one_of_several_sites_sends_to_its_own_collect(gateway_factory, tmp_path, page, recorder, context):
    root, store = tmp_path / "sites", tmp_path / "store"
    shutil.copytree(server_side_configs(tmp_path), root / "shop")
    shutil.copytree(STORE_DIR, store / "shop")
    for html in (store / "shop").glob("*.html"):
        html.write_text(html.read_text("utf-8").replace('src="/container.js"', 'src="/c/shop.js"'), "utf-8")
    recorder.use_config(root / "shop")
    server = gateway_factory(root, store)
    shop, collect = Shop(page, server.url + "/shop", recorder), CollectCalls(context)
    shop.open("/thank-you.html")
    accept_all(shop.page)
    wait_for_calls(shop, collect, 3)
    assert {call["url"] for call in collect.calls} == {server.url + "/c/shop/collect"}
    assert set(collect.by_tag()) == PURCHASE_TAGS

"""Server-side forwarding through the whole chain (issue 11's proof): a real Chromium on the example store, the
container, `gateway serve`'s POST /collect with its own consent decision, the outbox, the delivery worker and
the real adapters, up to local stand-ins of Meta's Conversions API, TikTok's Events API and GA4's Measurement
Protocol that validate each payload as the vendors document (tests/vendor_api_standins.py).

e2e/test_server_side_collect.py tests what the container sends with /collect answered by the test; this file
checks that the event reaches the vendor API, under the same consent as the browser pixel, with its event id.
"""

from __future__ import annotations

import time

import hashlib

import pytest
import yaml
from playwright.sync_api import expect

from gateway.testing import accept_all, opt_out, reject_all, visit_as
from tests.vendor_api_standins import GA4, META, TIKTOK, VendorAPIStandIns
from tests.waiting import wait_for

from .support import STORE_DIR, GatewayServer, Shop
from .test_cross_origin import serve_store_elsewhere  # noqa: F401 (a fixture)
from .test_server_side_collect import server_side_configs

TOKENS = {META: "meta-token", TIKTOK: "tt-token", GA4: "ga4-secret"}
VENDOR_APIS = (META, TIKTOK, GA4)


def forwarding_env(apis: VendorAPIStandIns) -> dict[str, str]:
    """The gateway's forwarding credentials, and the vendor APIs' base URL pointed at the stand-ins (honoured
    only under the test switch)."""
    return {"TAG_GATEWAY_FORWARD_TEST_ENDPOINTS": "1", "TAG_GATEWAY_FORWARD_TIMEOUT": "2",
            "TAG_GATEWAY_FORWARD_META_PIXEL": TOKENS[META], "TAG_GATEWAY_FORWARD_TIKTOK_PIXEL": TOKENS[TIKTOK],
            "TAG_GATEWAY_FORWARD_GA4": TOKENS[GA4],
            **{f"TAG_GATEWAY_FORWARD_BASE_URL_{v.upper()}": apis.base_url for v in VENDOR_APIS}}


@pytest.fixture
def apis():
    with VendorAPIStandIns(tokens=TOKENS) as standins:
        yield standins


@pytest.fixture
def shop(tmp_path, apis, page, recorder):
    configs = server_side_configs(tmp_path)
    # The store gives the customer's e-mail and phone for the server events (never for the browser pixels).
    tags = configs / "tags.yaml"
    data = yaml.safe_load(tags.read_text("utf-8"))
    for tag in data["tags"]:
        if tag["id"] in ("meta-purchase", "tiktok-purchase"):
            tag["user_data"] = {"email": "{{ dataLayer.user_data.email }}", "phone": "{{ dataLayer.user_data.phone }}"}
    tags.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    recorder.use_config(configs)
    server = GatewayServer(configs, STORE_DIR, env=forwarding_env(apis)).start()
    try:
        yield Shop(page, server.url, recorder)
    finally:
        server.stop()


def delivered(apis: VendorAPIStandIns) -> dict[str, int]:
    return {vendor: apis.distinct_events(vendor) for vendor in VENDOR_APIS}


def test_after_accept_all_a_purchase_reaches_the_pixel_and_the_api_with_one_event_id(shop, apis, context) -> None:
    shop.open("/")
    accept_all(shop.page)
    shop.settle()
    shop.open("/thank-you.html?order=ORD-88")
    expect(shop.page.locator("#order-id")).to_have_text("ORD-88")

    assert wait_for(lambda: delivered(apis) == {META: 1, TIKTOK: 1, GA4: 1}), delivered(apis)
    [meta_api] = apis.requests(META)
    [tiktok_api] = apis.requests(TIKTOK)
    [ga4_api] = apis.requests(GA4)
    # The browser pixels (`server_side: also`) sent the same purchase with the same id: each vendor counts one.
    [meta_pixel] = shop.recorder.assert_fired("meta-purchase", once=True)
    [tiktok_pixel] = shop.recorder.assert_fired("tiktok-purchase", once=True)
    assert meta_pixel.params["event_id"] == meta_api.body["data"][0]["event_id"] == "ORD-88"
    assert tiktok_pixel.params["event_id"] == tiktok_api.body["data"][0]["event_id"] == "ORD-88"
    assert meta_api.body["data"][0]["custom_data"]["content_ids"] == ["SKU-42"]
    assert meta_api.body["data"][0]["user_data"]["fbp"] == next(
        c["value"] for c in context.cookies() if c["name"] == "_fbp")
    # GA4 (`only`): nothing from the browser for the purchase; the server's hit is valid by the debug rules.
    assert shop.recorder.ga4("purchase") == []
    assert ga4_api.validation == [] and ga4_api.body["events"][0]["name"] == "purchase"
    assert ga4_api.body["events"][0]["params"]["transaction_id"] == "ORD-88"


def test_after_reject_all_nothing_reaches_the_pixels_or_the_apis(shop, apis) -> None:
    shop.open("/thank-you.html?order=ORD-1")
    reject_all(shop.page)
    shop.open("/thank-you.html?order=ORD-2")
    shop.settle()
    time.sleep(1.5)  # longer than the delivery worker's poll
    assert delivered(apis) == {META: 0, TIKTOK: 0, GA4: 0}
    assert [apis.requests(v) for v in VENDOR_APIS] == [[], [], []]
    shop.recorder.assert_silent(categories=["analytics", "marketing"])


def test_california_with_gpc_reaches_neither_the_pixels_nor_the_apis(shop, apis, context) -> None:
    visit_as(context, region="US-CA", gpc=True)
    shop.open("/thank-you.html?order=ORD-3")
    shop.settle()
    time.sleep(1.5)
    assert [apis.requests(v) for v in (META, TIKTOK)] == [[], []]
    shop.recorder.assert_silent(categories=["marketing"])


def test_in_california_events_reach_the_apis_until_the_visitor_opts_out(shop, apis, context) -> None:
    """An opt-out region: no choice is needed before the purchase counts; after "Do Not Sell or Share" neither the
    pixels nor the gateway send the marketing vendors anything more."""
    visit_as(context, region="US-CA")
    shop.open("/thank-you.html?order=ORD-10")
    assert wait_for(lambda: apis.distinct_events(META) == 1 and apis.distinct_events(TIKTOK) == 1), delivered(apis)
    opt_out(shop.page)
    shop.recorder.clear()
    shop.open("/thank-you.html?order=ORD-11")
    shop.settle()
    time.sleep(1.5)  # longer than the delivery worker's poll
    assert [r.body["data"][0]["event_id"] for r in apis.requests(META)] == ["ORD-10"]
    assert [r.body["data"][0]["event_id"] for r in apis.requests(TIKTOK)] == ["ORD-10"]
    assert shop.recorder.events("meta-purchase") == [] and shop.recorder.events("tiktok-purchase") == []


def test_a_blocked_browser_pixel_still_yields_the_server_event(shop, apis, context) -> None:
    """An ad blocker or tracking prevention that stops Meta's library: the server event still arrives."""
    context.route("**/connect.facebook.net/**", lambda route: route.abort("blockedbyclient"))
    shop.open("/")
    accept_all(shop.page)
    shop.settle()
    shop.open("/thank-you.html?order=ORD-99")
    assert wait_for(lambda: apis.distinct_events(META) == 1), delivered(apis)
    assert apis.requests(META)[0].body["data"][0]["event_id"] == "ORD-99"
    assert shop.recorder.events("meta-purchase") == []  # no browser hit: fbevents.js never loaded


def test_the_customers_email_and_phone_reach_the_apis_hashed_and_never_the_pixels(shop, apis, page) -> None:
    page.add_init_script("window.dataLayer = [{user_data: {email: ' Ada.Lovelace@Example.COM ', phone: '+49 151 2345 6789'}}]")
    shop.open("/")
    accept_all(shop.page)
    shop.settle()
    shop.open("/thank-you.html?order=ORD-5")
    assert wait_for(lambda: apis.distinct_events(META) == 1 and apis.distinct_events(TIKTOK) == 1), delivered(apis)
    email = hashlib.sha256(b"ada.lovelace@example.com").hexdigest()  # trimmed, lower-cased, then hashed
    meta_user = apis.requests(META)[0].body["data"][0]["user_data"]
    assert meta_user["em"] in (email, [email])
    phone = hashlib.sha256(b"4915123456789").hexdigest()  # Meta: digits only, with the country code
    assert meta_user["ph"] in (phone, [phone])
    tiktok_user = apis.requests(TIKTOK)[0].body["data"][0]["user"]
    assert tiktok_user["email"] == email
    # The browser pixels never see the address, raw or hashed.
    for request in shop.recorder.vendor_requests():
        seen = (request.url + (request.body or b"").decode("utf-8", "replace")).lower()
        for secret in ("lovelace", email, "15123456789", phone, "151%202345", "151 2345"):
            assert secret not in seen, (secret, request.url)


def test_from_a_store_on_another_origin_the_event_arrives_with_the_stores_consent(
        tmp_path, apis, page, recorder, serve_store_elsewhere) -> None:
    """The usual production setup: the store's pages on one origin, the gateway on another. The consent
    cookie is the store's; the container sends it in the header to the gateway's /collect (CORS)."""
    configs = server_side_configs(tmp_path)
    recorder.use_config(configs)
    server = GatewayServer(configs, STORE_DIR, env=forwarding_env(apis)).start()
    try:
        shop = Shop(page, serve_store_elsewhere(server), recorder)
        shop.open("/")
        accept_all(shop.page)
        shop.settle()
        shop.open("/thank-you.html?order=ORD-X1")
        assert wait_for(lambda: apis.distinct_events(META) == 1 and apis.distinct_events(TIKTOK) == 1), \
            (delivered(apis), server.output())
        event = apis.requests(META)[0].body["data"][0]
        assert event["event_id"] == "ORD-X1" and event["event_source_url"].startswith(shop.base_url)
    finally:
        server.stop()

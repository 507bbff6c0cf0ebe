"""The vendor templates added as units (gateway/vendors/pinterest, gateway/vendors/snap_pixel) against their
libraries' stand-ins (gateway/testing/stubs/pinterest_core.js, scevent.js), on the example store's pages.

The exact requests, and how many: each page loads each library once and sends one page view per tag
(Pinterest: its `init` on load, then `pagevisit`; Snap: PAGE_VIEW); the thank-you page's purchase push
adds one Pinterest `checkout` and one Snap PURCHASE carrying the order. Nothing leaves before the
visitor's choice, nothing after a refusal, and a withdrawal removes the vendors' first-party cookies.
"""

import json

import pytest

from gateway.testing import accept_all, reject_all, withdraw

from .support import Shop

PINTEREST_TAG_ID = "2612345678901"
SNAP_PIXEL_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

SITE = """
site:
  name: Vendor Templates Store
  allowed_origins: ["http://127.0.0.1:*"]
  policy_version: 1
  privacy_policy_url: /privacy.html
categories:
  marketing: {label: Marketing, description: Ads.}
"""

TAGS = f"""
tags:
  - id: pinterest-pageview
    category: marketing
    trigger: {{type: page_view}}
    pinterest: {{tag_id: "{PINTEREST_TAG_ID}"}}
  - id: pinterest-purchase
    category: marketing
    trigger: {{type: event, event: purchase}}
    pinterest: {{tag_id: "{PINTEREST_TAG_ID}"}}
  - id: snap-pageview
    category: marketing
    trigger: {{type: page_view}}
    snap_pixel: {{pixel_id: {SNAP_PIXEL_ID}}}
  - id: snap-purchase
    category: marketing
    trigger: {{type: event, event: purchase}}
    snap_pixel: {{pixel_id: {SNAP_PIXEL_ID}}}
"""

ORDER = {"value": 59.9, "currency": "EUR", "order_id": "ORD-1001", "order_quantity": 1,
         "line_items": [{"product_id": "SKU-42", "product_name": "Canvas Tote", "product_price": 49.9,
                         "product_quantity": 1}],
         "event_id": "ORD-1001"}


@pytest.fixture
def store(tmp_path, gateway_factory, page, recorder):
    config_dir = tmp_path / "vendor_templates"
    config_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(TAGS)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    return Shop(page, server.url, recorder)


def _pinterest(recorder, event=None):
    found = [r for r in recorder.requests if r.host == "ct.pinterest.com" and r.path == "/v3/"]
    return [r for r in found if event is None or r.params.get("event") == event]


def _snap(recorder, event=None):
    found = [r for r in recorder.requests if r.host == "tr.snapchat.com" and r.path == "/p"]
    return [r for r in found if event is None or r.form().get("ev") == event]


def _libraries(recorder):
    return sorted(r.url for r in recorder.libraries())


def _vendor_cookies(page):
    return sorted(c["name"] for c in page.context.cookies() if c["name"] in ("_pin_unauth", "_scid"))


def _page_views(recorder, page_url):
    """One page's requests: each library once, Pinterest init + pagevisit, Snap PAGE_VIEW, exactly."""
    assert _libraries(recorder) == ["https://s.pinimg.com/ct/core.js", "https://sc-static.net/scevent.min.js"], \
        recorder.describe()
    [init] = _pinterest(recorder, "init")
    [visit] = _pinterest(recorder, "pagevisit")
    for request in (init, visit):
        assert request.method == "GET" and request.resource_type == "image", request
        assert request.params["tid"] == PINTEREST_TAG_ID and request.params["cb"].isdigit()
        assert json.loads(request.params["ad"])["loc"] == page_url
    assert "ed" not in init.params and "ed" not in visit.params  # a page view carries no event data
    [view] = _snap(recorder, "PAGE_VIEW")
    form = view.form()
    assert view.method == "POST" and form["pid"] == SNAP_PIXEL_ID and form["m_pl"] == page_url
    assert form["u_c1"] and not [k for k in form if k.startswith("e_") or k == "cdid"], form


def test_page_views_and_a_purchase_send_exactly_the_vendors_requests(store, recorder):
    store.open("/")
    store.settle()
    assert recorder.requests == []  # nothing before the choice, not even the libraries

    accept_all(store.page)
    recorder.assert_fired("pinterest-pageview", once=True)
    recorder.assert_fired("snap-pageview", once=True)
    _page_views(recorder, store.base_url + "/")
    assert len(recorder.requests) == 5, recorder.describe()
    assert _vendor_cookies(store.page) == ["_pin_unauth", "_scid"]

    recorder.clear()
    store.open("/thank-you.html")
    [checkout] = recorder.assert_fired("pinterest-purchase", once=True, value=59.9, currency="EUR",
                                       transaction_id="ORD-1001", event_id="ORD-1001")
    [purchase] = recorder.assert_fired("snap-purchase", once=True, value=59.9, currency="EUR",
                                       transaction_id="ORD-1001", event_id="ORD-1001")
    _page_views(recorder, store.base_url + "/thank-you.html")

    [request] = _pinterest(recorder, "checkout")
    assert checkout.hit.request is request and checkout.account == PINTEREST_TAG_ID
    assert json.loads(request.params["ed"]) == ORDER  # the wire format: event data as JSON
    assert request.params["tid"] == PINTEREST_TAG_ID

    [request] = _snap(recorder, "PURCHASE")
    assert purchase.hit.request is request and purchase.account == SNAP_PIXEL_ID
    form = request.form()
    assert {k: v for k, v in form.items() if k.startswith("e_") or k == "cdid"} == {
        "e_pr": "59.9", "e_cur": "EUR", "e_tid": "ORD-1001", "e_iids": '["SKU-42"]', "e_ni": "1", "cdid": "ORD-1001"}
    assert form["pid"] == SNAP_PIXEL_ID and form["m_pl"].endswith("/thank-you.html")

    # Per vendor: library, (init,) page view, purchase; nothing else, then or later.
    recorder.wait_past_automatic_hits(store.page)
    assert len(_pinterest(recorder)) == 3 and len(_snap(recorder)) == 2
    assert len(recorder.requests) == 7, recorder.describe()
    assert recorder.unexplained() == [] and recorder.unknown_third_parties() == []


def test_a_purchase_before_the_choice_is_sent_once_after_accept(store, recorder):
    store.open("/thank-you.html")
    recorder.assert_silent(wait_ms=0)

    accept_all(store.page)
    recorder.assert_fired("pinterest-purchase", once=True, transaction_id="ORD-1001")
    recorder.assert_fired("snap-purchase", once=True, transaction_id="ORD-1001")
    assert len(_pinterest(recorder)) == 3 and len(_snap(recorder)) == 2, recorder.describe()


def test_nothing_is_sent_after_reject(store, recorder):
    store.open("/thank-you.html")
    reject_all(store.page)
    recorder.assert_silent()
    store.open("/")
    store.open("/thank-you.html")
    recorder.assert_silent()
    assert _vendor_cookies(store.page) == []
    assert store.page.evaluate("typeof window.pintrk + typeof window.snaptr") == "undefinedundefined"


def test_withdrawal_removes_their_cookies_and_stops_them(store, recorder):
    store.open("/")
    accept_all(store.page)
    recorder.assert_fired("snap-pageview", once=True)
    assert _vendor_cookies(store.page) == ["_pin_unauth", "_scid"]

    withdraw(store.page)
    store.settle()
    recorder.clear()
    assert _vendor_cookies(store.page) == []  # the cookies named in the units' vendor.yaml
    # The libraries are still on this page: what they would send now is stopped by the consent firewall.
    store.page.evaluate("pintrk('track', 'custom', {}); snaptr('track', 'CUSTOM_EVENT_1', {})")
    recorder.assert_silent()
    store.open("/thank-you.html")
    recorder.assert_silent()

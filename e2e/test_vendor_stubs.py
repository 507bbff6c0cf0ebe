"""The vendor stand-ins behave like the real libraries, not kinder: driven on a bare page, without the gateway.

The page is served by a page-level route at http://127.0.0.1:<free port>/ (nothing listens there); the
vendor libraries come from the context's VendorRecorder as in every other e2e test.

These tests read the recorded requests raw (query strings, body lines, batches, beacon bodies) on purpose:
they pin down the wire format the stand-ins send, which is what the kit's decoders are built on; asserting
through the decoders would only test the decoders against themselves.
"""

import json

import pytest
from playwright.sync_api import Page

from .support import VendorRecorder, free_port, new_recorded_context

GA = "G-STUBTEST1"
GTAG_BASE = """
window.stubLayer = window.stubLayer || [];
function gtag() { stubLayer.push(arguments); }
gtag('js', new Date());
"""
FB_BASE = """
(function () {
  var f = window.fbq = function () { f.callMethod ? f.callMethod.apply(f, arguments) : f.queue.push(arguments); };
  window._fbq = f; f.push = f; f.loaded = true; f.version = '2.0'; f.queue = [];
})();
"""
TT_BASE = """
(function () {
  var ttq = window.ttq = [];
  ttq.methods = ['page', 'track', 'identify', 'holdConsent', 'grantConsent', 'revokeConsent'];
  ttq.methods.forEach(function (m) { ttq[m] = function () { ttq.push([m].concat([].slice.call(arguments))); }; });
  ttq._i = {};
  ttq.load = function (id) { ttq._i[id] = []; ttq._i[id]._u = 'events.js'; };
})();
"""


@pytest.fixture
def bare(browser):
    """open(head_js, body_html='') -> (page, recorder): a bare page whose <head> runs head_js."""
    contexts = []

    def open_page(head_js: str, body_html: str = "", tiktok_sdk: str = "legacy") -> tuple[Page, VendorRecorder]:
        context, recorder = new_recorded_context(browser, tiktok_sdk=tiktok_sdk)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        url = f"http://127.0.0.1:{free_port()}/"
        html = (
            "<!doctype html><html><head><title>Bare page</title>"
            f"<script>{head_js}</script></head><body>{body_html}"
            '<button id="buy">Buy <b>now</b></button> <a id="more" href="#more">More</a>'
            '<div style="height: 3000px"></div></body></html>'
        )
        page.route(url + "**", lambda route: route.fulfill(content_type="text/html; charset=utf-8", body=html))
        page.goto(url)
        return page, recorder

    yield open_page
    for context in contexts:
        context.close()


def _load(src: str) -> str:
    return f"document.head.appendChild(Object.assign(document.createElement('script'), {{src: {json.dumps(src)}}}));"


def _gtag_page(bare, calls: str):
    head = GTAG_BASE + calls + _load(f"https://www.googletagmanager.com/gtag/js?id={GA}&l=stubLayer")
    return bare(head)


def _cookies(page) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


# --------------------------------------------------------------------------- GA4 / gtag.js


def test_gtag_batches_events_on_the_layer_named_by_the_server(bare):
    page, recorder = _gtag_page(bare, f"""
        gtag('config', '{GA}', {{send_page_view: false}});
        gtag('event', 'add_to_cart', {{currency: 'EUR', value: 12.5, items: [{{item_id: 'SKU-1', item_name: 'Mug', price: 12.5}}]}});
        gtag('event', 'purchase', {{transaction_id: 'T 1&2', value: 12.5, currency: 'EUR', coupon: 'X'}});
    """)
    found = recorder.wait_for(page, lambda: recorder.ga4(), count=2)
    assert len(found) == 2, recorder.describe()
    add, purchase = found
    # One POST carries both events, one per body line, after the shared parameters in the query.
    assert add.request is purchase.request
    request = add.request
    assert request.method == "POST" and len(request.body_lines()) == 2, request
    assert request.params["tid"] == GA and request.params["v"] == "2"
    for shared in ("gtm", "_p", "cid", "dl", "dt"):
        assert request.params.get(shared), (shared, request)
    assert request.params["gcd"] == "13l3l3l3l1l1" and "gcs" not in request.params  # no consent command
    assert "en" not in request.params
    assert add.params["en"] == "add_to_cart" and add.params["pr1"] == "idSKU-1~nmMug~pr12.5"
    assert purchase.params["en"] == "purchase"
    assert purchase.params["ep.transaction_id"] == "T 1&2"
    assert purchase.params["epn.value"] == "12.5" and purchase.params["cu"] == "EUR"
    assert purchase.params["ep.coupon"] == "X" and purchase.params["tid"] == GA
    assert page.evaluate("typeof window.dataLayer") == "undefined"  # only the named layer was used
    assert "_ga" in _cookies(page)

    # Enhanced measurement: an automatic scroll, alone in its request (params in the query, empty body).
    [scroll] = recorder.wait_for(page, lambda: recorder.ga4("scroll"), timeout_ms=5000)
    assert scroll.params["epn.percent_scrolled"] == "90"
    assert scroll.request.body_lines() == [] and scroll.request.params["en"] == "scroll"
    assert scroll.time - request.time > 1.5


def test_ga_disable_does_not_stop_the_scroll_already_queued(bare):
    page, recorder = _gtag_page(bare, f"gtag('config', '{GA}');")
    recorder.wait_for(page, lambda: recorder.ga4("page_view"))
    page.evaluate(f"() => {{ window['ga-disable-{GA}'] = true; gtag('event', 'after_disable'); }}")
    recorder.wait_past_automatic_hits(page)
    assert recorder.ga4("after_disable") == []  # the flag stops what is queued after it
    assert len(recorder.ga4("scroll")) == 1, recorder.describe()  # not what was queued before


def test_gtag_consent_mode_sets_gcs_gcd_and_cookieless_pings(bare):
    page, recorder = _gtag_page(bare, f"""
        gtag('consent', 'default', {{ad_storage: 'denied', analytics_storage: 'denied',
                                      ad_user_data: 'denied', ad_personalization: 'denied'}});
        gtag('config', '{GA}');
    """)
    [denied] = recorder.wait_for(page, lambda: recorder.ga4("page_view"))
    # Denied analytics still sends: a cookieless ping that says so. Only a firewall stops it.
    assert denied.params["gcs"] == "G100" and denied.params["gcd"] == "13p3p3p3p5l1"
    assert not any(name.startswith("_ga") for name in _cookies(page))

    page.evaluate("gtag('consent', 'update', {analytics_storage: 'granted'}); gtag('event', 'step_two')")
    [granted] = recorder.wait_for(page, lambda: recorder.ga4("step_two"))
    assert granted.params["gcs"] == "G101" and granted.params["gcd"] == "13p3r3p3p5l1"
    assert "_ga" in _cookies(page)

    page.evaluate("gtag('consent', 'update', {ad_storage: 'granted', ad_user_data: 'granted'}); gtag('event', 'three')")
    [both] = recorder.wait_for(page, lambda: recorder.ga4("three"))
    assert both.params["gcs"] == "G111" and both.params["gcd"] == "13r3r3r3p5l1"


def test_gtag_google_ads_conversion_and_remarketing(bare):
    page, recorder = _gtag_page(bare, """
        gtag('consent', 'default', {ad_storage: 'granted', analytics_storage: 'denied'});
        gtag('config', 'AW-987654321');
        gtag('config', 'AW-111', {send_page_view: false});
        gtag('event', 'conversion', {send_to: 'AW-987654321/LaBeL', value: 59.9, currency: 'EUR', transaction_id: 'ORD 7/ü&x'});
    """)
    [conversion] = recorder.wait_for(page, recorder.ads_conversions)
    [remarketing] = recorder.wait_for(page, recorder.ads_remarketing)
    assert conversion.path == "/pagead/conversion/987654321/" and conversion.method == "GET"
    assert conversion.params["label"] == "LaBeL" and conversion.params["value"] == "59.9"
    assert conversion.params["currency_code"] == "EUR" and conversion.params["oid"] == "ORD 7/ü&x"
    assert conversion.params["gcs"] == "G110" and conversion.params["gcd"].startswith("13t3p3l3l")
    # config without send_page_view:false sends the remarketing hit by itself; AW-111 sends none
    assert remarketing.path == "/pagead/viewthroughconversion/987654321/"
    assert remarketing.params["data"] == "event=page_view"
    page.evaluate("gtag('event', 'page_view', {send_to: 'AW-111'})")
    recorder.wait_for(page, recorder.ads_remarketing, count=2)
    assert recorder.ads_remarketing()[1].path == "/pagead/viewthroughconversion/111/"


# --------------------------------------------------------------------------- Meta / fbevents.js


def _fb_page(bare, calls: str):
    return bare(FB_BASE + calls + _load("https://connect.facebook.net/en_US/fbevents.js"))


def test_meta_sends_nothing_for_a_pixel_until_its_config_script_ran(bare, browser):
    # Pixel 222's config script never arrives (aborted); 111's does.
    page, recorder = _fb_page(bare, "")
    page.route("https://connect.facebook.net/signals/config/222*", lambda route: route.abort())
    page.evaluate("""() => {
        fbq('set', 'autoConfig', false, '111'); fbq('set', 'autoConfig', false, '222');
        fbq('init', '111'); fbq('init', '222'); fbq('track', 'PageView');
    }""")
    [hit] = recorder.wait_for(page, lambda: recorder.meta("PageView"))
    recorder.settle(page)
    assert [h.params["id"] for h in recorder.meta()] == ["111"], recorder.describe()
    [config] = recorder.meta_configs("111")
    assert config.params["r"] == "stable" and config.params["v"].startswith("2.9.")
    assert hit.time > config.time
    assert hit.method == "GET" and hit.resource_type == "image"
    for field in ("dl", "rl", "ts", "fbp"):
        assert field in hit.params, (field, hit)
    assert _cookies(page)["_fbp"] == hit.params["fbp"]


def test_meta_history_navigation_sends_page_view_unless_disabled(bare):
    page, recorder = _fb_page(bare, "fbq('set', 'autoConfig', false, '111'); fbq('init', '111');")
    recorder.wait_for(page, lambda: recorder.meta_configs("111"))
    page.evaluate("history.pushState({}, '', '/step-1')")
    [first] = recorder.wait_for(page, lambda: recorder.meta("PageView"))
    assert first.params["dl"].endswith("/step-1")
    page.evaluate("history.replaceState({}, '', '/step-2')")
    recorder.wait_for(page, lambda: recorder.meta("PageView"), count=2)

    page.evaluate("fbq.disablePushState = true; history.pushState({}, '', '/step-3')")
    recorder.settle(page)
    assert len(recorder.meta("PageView")) == 2, recorder.describe()


def test_meta_auto_config_clicks_unless_turned_off_for_the_pixel(bare):
    # 333 turns autoConfig off too late: the real library reads it at init.
    page, recorder = _fb_page(bare, """
        fbq('init', '111'); fbq('set', 'autoConfig', false, '222'); fbq('init', '222');
        fbq('init', '333'); fbq('set', 'autoConfig', false, '333');
    """)
    recorder.wait_for(page, lambda: recorder.meta_configs(), count=3)
    recorder.settle(page)
    page.click("#buy b")
    [click, _] = recorder.wait_for(page, lambda: recorder.meta("SubscribedButtonClick"), count=2)
    recorder.settle(page)
    assert sorted(h.params["id"] for h in recorder.meta("SubscribedButtonClick")) == ["111", "333"]
    assert click.params["cd[buttonText]"] == "Buy now"
    assert json.loads(click.params["cd[buttonFeatures]"])["tag"] == "button"


def test_meta_long_payload_is_posted_and_consent_revoke_holds_until_grant(bare):
    page, recorder = _fb_page(bare, "fbq('set', 'autoConfig', false, '111'); fbq('init', '111');")
    recorder.wait_for(page, lambda: recorder.meta_configs("111"))
    page.evaluate("fbq('track', 'Lead', {note: 'x'.repeat(3000)}, {eventID: 'E-1'})")
    [lead] = recorder.wait_for(page, lambda: recorder.meta("Lead"))
    assert lead.method == "POST" and lead.path == "/tr/" and lead.query == {}
    assert lead.params["cd[note]"] == "x" * 3000 and lead.params["eid"] == "E-1" and lead.params["id"] == "111"

    page.evaluate("fbq('consent', 'revoke'); fbq('track', 'Contact')")
    recorder.settle(page)
    assert recorder.meta("Contact") == []
    page.evaluate("fbq('consent', 'grant')")
    recorder.wait_for(page, lambda: recorder.meta("Contact"))


# --------------------------------------------------------------------------- TikTok / events.js

TT_ID = "CSTUBTEST0TIKTOK0001"


def _tt_page(bare, calls: str, sdk: str = "legacy"):
    head = TT_BASE + f"ttq.load('{TT_ID}');" + calls + _load(
        f"https://analytics.tiktok.com/i18n/pixel/events.js?sdkid={TT_ID}&lib=ttq")
    return bare(head, tiktok_sdk=sdk)


def test_tiktok_sends_events_metadata_and_clicks_and_ignores_consent_calls(bare):
    page, recorder = _tt_page(bare, "ttq.holdConsent(); ttq.page(); ttq.track('AddToCart', {value: 3}, {event_id: 'E-9'});")
    [pageview] = recorder.wait_for(page, lambda: recorder.tiktok("Pageview"))
    [add] = recorder.wait_for(page, lambda: recorder.tiktok("AddToCart"))
    body = add.json()
    assert body["context"]["pixel"]["code"] == TT_ID and body["event_id"] == "E-9"
    assert body["properties"] == {"value": 3} and body["timestamp"]
    assert body["context"]["page"]["referrer"] == "" and body["context"]["library"]["version"] == "2.1.33"
    assert pageview.method == "POST"
    [metadata] = recorder.wait_for(page, lambda: recorder.tiktok_act("Metadata"))
    assert metadata.json()["properties"]["title"] == "Bare page"
    assert "_ttp" in _cookies(page)

    page.evaluate("ttq.revokeConsent()")  # 2.1.33 has no such method: the call sits in the queue
    page.click("#buy b")
    [click] = recorder.wait_for(page, lambda: recorder.tiktok_act("Click"))
    props = click.json()["properties"]
    assert props["trigger_element"] == "BUTTON" and props["inner_text"] == "Buy now"
    assert props["xpath"] == "/html/body[1]/button[1]" and set(props["position"]) == {"x", "y"}
    recorder.wait_past_automatic_hits(page)
    assert len(recorder.tiktok_act("Metadata")) == 1


def test_tiktok_consent_sdk_holds_grants_and_revokes_everything(bare):
    page, recorder = _tt_page(bare, "ttq.holdConsent(); ttq.page();", sdk="consent")
    page.click("#buy")
    recorder.wait_past_automatic_hits(page)
    assert recorder.vendor_requests() == recorder.library("analytics.tiktok.com"), recorder.describe()
    assert "_ttp" not in _cookies(page)

    page.evaluate("ttq.grantConsent()")
    recorder.wait_for(page, lambda: recorder.tiktok("Pageview"))
    recorder.wait_for(page, lambda: recorder.tiktok_act("Metadata"))
    recorder.wait_for(page, lambda: recorder.tiktok_act("Click"))
    assert recorder.tiktok("Pageview")[0].json()["context"]["library"]["version"] != "2.1.33"

    page.evaluate("ttq.revokeConsent()")
    recorder.clear()
    page.evaluate("ttq.track('Purchase')")
    page.click("#more")
    recorder.wait_past_automatic_hits(page)
    assert recorder.vendor_requests() == [], recorder.describe()

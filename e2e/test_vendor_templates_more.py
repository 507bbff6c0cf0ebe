"""Four more vendor templates as units (gateway/vendors/microsoft_uet, linkedin_insight, reddit_pixel,
x_pixel) against their libraries' stand-ins (gateway/testing/stubs/uet_bat.js, linkedin_insight.js,
reddit_pixel.js, twitter_uwt.js), on the example store's pages.

The exact requests, and how many: each page loads each library once and sends one page view per tag
(UET: the snippet's pageLoad; LinkedIn: the Insight Tag's own page view; Reddit: PageVisit; X: config's
own page view, sent to analytics.twitter.com and to t.co); the thank-you page's purchase push adds one
UET `purchase`, one LinkedIn conversion, one Reddit Purchase and one X event (two requests) carrying the
order. Nothing leaves before the visitor's choice, nothing after a refusal; the purchase tags fire once per
transaction id, so a reload counts the order once; UET's consent mode starts denied and follows the
choice; a withdrawal removes the vendors' first-party cookies.
"""

import json

import pytest
from playwright.sync_api import Page

from gateway.testing import accept_all, reject_all, withdraw

from .support import Shop, VendorRecorder, free_port, new_recorded_context

UET_TI = "187654321"
LINKEDIN_PARTNER = "1234567"
LINKEDIN_CONVERSION = 7654321
REDDIT_PIXEL = "a2_abcdef123456"
X_PIXEL = "o8z6j"
X_EVENT = f"tw-{X_PIXEL}-o8z21"

SITE = """
site:
  name: More Vendor Templates Store
  allowed_origins: ["http://127.0.0.1:*"]
  policy_version: 1
  privacy_policy_url: /privacy.html
categories:
  marketing: {label: Marketing, description: Ads.}
"""

ONCE = '{once_per_key: "{{ event.ecommerce.transaction_id }}"}'
TAGS = f"""
tags:
  - {{id: uet-pageview, category: marketing, trigger: {{type: page_view}}, microsoft_uet: {{ti: "{UET_TI}"}}}}
  - {{id: uet-purchase, category: marketing, trigger: {{type: event, event: purchase}}, fire: {ONCE},
     microsoft_uet: {{ti: "{UET_TI}"}}}}
  - {{id: linkedin-base, category: marketing, trigger: {{type: page_view}}, linkedin_insight: {{partner_id: "{LINKEDIN_PARTNER}"}}}}
  - {{id: linkedin-purchase, category: marketing, trigger: {{type: event, event: purchase}}, fire: {ONCE},
     linkedin_insight: {{partner_id: "{LINKEDIN_PARTNER}", conversion_id: {LINKEDIN_CONVERSION}}}}}
  - {{id: reddit-pageview, category: marketing, trigger: {{type: page_view}}, reddit_pixel: {{pixel_id: {REDDIT_PIXEL}}}}}
  - {{id: reddit-purchase, category: marketing, trigger: {{type: event, event: purchase}}, fire: {ONCE},
     reddit_pixel: {{pixel_id: {REDDIT_PIXEL}}}}}
  - {{id: x-base, category: marketing, trigger: {{type: page_view}}, x_pixel: {{pixel_id: {X_PIXEL}}}}}
  - {{id: x-purchase, category: marketing, trigger: {{type: event, event: purchase}}, fire: {ONCE},
     x_pixel: {{pixel_id: {X_PIXEL}, event_id: o8z21}}}}
"""

LIBRARIES = ["https://bat.bing.com/bat.js", "https://snap.licdn.com/li.lms-analytics/insight.min.js",
             "https://static.ads-twitter.com/uwt.js", "https://www.redditstatic.com/ads/pixel.js"]
COOKIES = ("_uetsid", "_uetvid", "_uetmsclkid", "li_fat_id", "ln_or", "_rdt_uuid", "_rdt_cid", "_twclid")
PER_PAGE = 4 + 1 + 1 + 1 + 2        # libraries, UET pageLoad, LinkedIn page view, Reddit PageVisit, X page view x2
PER_PURCHASE = 1 + 1 + 1 + 2        # UET purchase, LinkedIn conversion, Reddit Purchase, X event x2


@pytest.fixture
def store(tmp_path, gateway_factory, page, recorder):
    config_dir = tmp_path / "vendor_templates_more"
    config_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(TAGS)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    return Shop(page, server.url, recorder)


def _requests(recorder, host, path):
    return [r for r in recorder.requests if r.host == host and r.path == path]


def _uet(recorder, evt=None):
    return [r for r in _requests(recorder, "bat.bing.com", "/action/0") if evt is None or r.params.get("evt") == evt]


def _linkedin(recorder, conversions=None):
    found = _requests(recorder, "px.ads.linkedin.com", "/collect")
    return [r for r in found if conversions is None or ("conversionId" in r.params) == conversions]


def _reddit(recorder, event=None):
    return [r for r in _requests(recorder, "alb.reddit.com", "/rp.gif") if event is None or r.params["event"] == event]


def _x(recorder, host="analytics.twitter.com"):
    return _requests(recorder, host, "/1/i/adsct")


def _cookies(page):
    return sorted(c["name"] for c in page.context.cookies() if c["name"] in COOKIES)


def _page_views(recorder, page_url):
    """One page's requests: each library once and each vendor's page view, exactly."""
    assert sorted(r.url for r in recorder.libraries()) == LIBRARIES, recorder.describe()
    [load] = _uet(recorder, "pageLoad")
    assert load.resource_type == "image" and load.params["ti"] == UET_TI and load.params["p"] == page_url
    assert load.params["asc"] == "G" and len(load.params["sid"]) == 32 and len(load.params["vid"]) == 32
    [view] = _linkedin(recorder, conversions=False)
    assert view.params["pid"] == LINKEDIN_PARTNER and view.params["url"] == page_url and view.params["time"].isdigit()
    [visit] = _reddit(recorder, "PageVisit")
    assert visit.params["id"] == REDDIT_PIXEL and visit.params["uuid"]
    assert not [k for k in visit.params if k.startswith("m.")]  # a page visit carries no event data
    for host in ("analytics.twitter.com", "t.co"):
        [x_view] = [r for r in _x(recorder, host) if "event_id" not in r.params]
        assert x_view.params["txn_id"] == X_PIXEL and x_view.params["tw_document_href"] == page_url
        assert json.loads(x_view.params["events"]) == [["pageview", {}]]


def test_page_views_and_a_purchase_send_exactly_the_vendors_requests(store, recorder):
    store.open("/")
    store.settle()
    assert recorder.requests == []  # nothing before the choice, not even the libraries
    # UET consent mode: the default is queued as soon as the container runs, before bat.js can load.
    assert store.page.evaluate("JSON.stringify(window.uetq)") == '["consent","default",{"ad_storage":"denied"}]'

    accept_all(store.page)
    for tag in ("uet-pageview", "linkedin-base", "reddit-pageview", "x-base"):
        recorder.assert_fired(tag, once=True)
    _page_views(recorder, store.base_url + "/")
    assert len(recorder.requests) == PER_PAGE, recorder.describe()
    assert _cookies(store.page) == ["_rdt_uuid", "_uetsid", "_uetvid", "ln_or"]

    recorder.clear()
    store.open("/thank-you.html")
    order = {"value": 59.9, "currency": "EUR"}
    [uet] = recorder.assert_fired("uet-purchase", once=True, transaction_id="ORD-1001", **order)
    [linkedin] = recorder.assert_fired("linkedin-purchase", once=True, event_id="ORD-1001", **order)
    [reddit] = recorder.assert_fired("reddit-purchase", once=True, event_id="ORD-1001", **order)
    [x] = recorder.assert_fired("x-purchase", once=True, event_id="ORD-1001", **order)
    _page_views(recorder, store.base_url + "/thank-you.html")

    [request] = _uet(recorder, "custom")
    assert uet.hit.request is request and uet.account == UET_TI and uet.event == "purchase"
    assert {k: request.params.get(k) for k in ("ea", "gv", "gc", "transaction_id", "prodid", "ecomm_totalvalue", "asc")} == {
        "ea": "purchase", "gv": "59.9", "gc": "EUR", "transaction_id": "ORD-1001", "prodid": "SKU-42",
        "ecomm_totalvalue": "59.9", "asc": "G"}

    [request] = _linkedin(recorder, conversions=True)
    assert linkedin.hit.request is request and linkedin.account == LINKEDIN_PARTNER
    assert {k: request.params[k] for k in ("pid", "conversionId", "value", "currency", "eventId")} == {
        "pid": LINKEDIN_PARTNER, "conversionId": str(LINKEDIN_CONVERSION), "value": "59.9", "currency": "EUR",
        "eventId": "ORD-1001"}

    [request] = _reddit(recorder, "Purchase")
    assert reddit.hit.request is request and reddit.account == REDDIT_PIXEL
    assert {k: v for k, v in request.params.items() if k.startswith("m.")} == {
        "m.value": "59.9", "m.currency": "EUR", "m.itemCount": "1", "m.conversionId": "ORD-1001",
        "m.products": '[{"id":"SKU-42","name":"Canvas Tote"}]'}

    [request] = [r for r in _x(recorder) if "event_id" in r.params]
    assert x.hit.request is request and x.account == X_PIXEL and request.params["event_id"] == X_EVENT
    assert json.loads(request.params["event"]) == {
        "value": 59.9, "currency": "EUR", "conversion_id": "ORD-1001", "num_items": 1,
        "contents": [{"content_id": "SKU-42", "content_name": "Canvas Tote", "content_price": 49.9, "num_items": 1}]}
    [copy] = [r for r in _x(recorder, "t.co") if "event_id" in r.params]
    assert copy.params == request.params  # the same event, to t.co

    # Per vendor: library, page view, purchase; nothing else, then or later.
    recorder.wait_past_automatic_hits(store.page)
    assert len(recorder.requests) == PER_PAGE + PER_PURCHASE, recorder.describe()
    assert recorder.unexplained() == [] and recorder.unknown_third_parties() == []


def test_the_purchase_counts_once_over_a_reload(store, recorder):
    store.open("/thank-you.html")
    recorder.assert_silent(wait_ms=0)
    accept_all(store.page)  # the purchase pushed before the choice fires now, once
    for tag in ("uet-purchase", "linkedin-purchase", "reddit-purchase", "x-purchase"):
        recorder.assert_fired(tag, once=True, event_id="ORD-1001") if tag != "uet-purchase" else \
            recorder.assert_fired(tag, once=True, transaction_id="ORD-1001")
    recorder.wait_past_automatic_hits(store.page)
    assert len(recorder.requests) == PER_PAGE + PER_PURCHASE, recorder.describe()

    store.reload()
    recorder.assert_fired("x-base", times=2)
    recorder.wait_past_automatic_hits(store.page)
    for tag in ("uet-pageview", "linkedin-base", "reddit-pageview", "x-base"):
        assert len(recorder.events(tag)) == 2, (tag, recorder.report())  # a page view on each load
    for tag in ("uet-purchase", "linkedin-purchase", "reddit-purchase", "x-purchase"):
        assert len(recorder.events(tag)) == 1, (tag, recorder.report())  # the order, once
    assert len(recorder.requests) == 2 * PER_PAGE + PER_PURCHASE, recorder.describe()


def test_nothing_is_sent_after_reject(store, recorder):
    store.open("/thank-you.html")
    reject_all(store.page)
    recorder.assert_silent()
    store.open("/")
    store.open("/thank-you.html")
    recorder.assert_silent()
    assert _cookies(store.page) == []
    assert store.page.evaluate("typeof window.lintrk + typeof window.rdt + typeof window.twq") == "undefined" * 3
    # UET's queue holds the denied default and nothing else: no library, no update.
    assert store.page.evaluate("JSON.stringify(window.uetq)") == '["consent","default",{"ad_storage":"denied"}]'


def test_withdrawal_denies_uet_storage_removes_the_cookies_and_stops_them(store, recorder):
    store.open("/?msclkid=abc123&li_fat_id=fat-1&rdt_cid=cid-1&twclid=tw-1")
    accept_all(store.page)
    recorder.assert_fired("x-base", once=True)
    recorder.assert_fired("uet-pageview", once=True)
    assert _cookies(store.page) == sorted(COOKIES)
    [load] = _uet(recorder, "pageLoad")
    assert load.params["msclkid"] == "abc123"
    [view] = _linkedin(recorder)
    assert view.params["li_fat_id"] == "fat-1"

    withdraw(store.page)
    store.settle()
    recorder.clear()
    assert _cookies(store.page) == []  # the cookies named in the units' vendor.yaml
    # The UET tag was told: ad_storage denied, so bat.js writes no cookie again.
    assert store.page.evaluate("window.uetq instanceof window.UET")
    # The libraries are still on this page: what they would send now is stopped by the consent firewall.
    store.page.evaluate("""() => { uetq.push('event', 'later', {}); lintrk('track', {conversion_id: 1});
                                   rdt('track', 'Lead'); twq('event', 'tw-o8z6j-o8z21', {}); }""")
    recorder.assert_silent()
    # UET was told ad_storage is denied and writes nothing; Reddit's pixel has no consent call and writes
    # its id again while it runs (as TikTok's SDK does), and the next page removes it.
    assert _cookies(store.page) == ["_rdt_uuid"]
    store.open("/thank-you.html")
    recorder.assert_silent()
    assert _cookies(store.page) == []


# --------------------------------------------------------------------------- the stand-ins on a bare page


@pytest.fixture
def bare(browser):
    """open(head_js) -> (page, recorder): a bare page whose <head> runs head_js, without the gateway."""
    contexts = []

    def open_page(head_js: str) -> tuple[Page, VendorRecorder]:
        context, recorder = new_recorded_context(browser)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        url = f"http://127.0.0.1:{free_port()}/"
        html = f"<!doctype html><html><head><title>Bare page</title><script>{head_js}</script></head><body></body></html>"
        page.route(url + "**", lambda route: route.fulfill(content_type="text/html; charset=utf-8", body=html))
        page.goto(url)
        return page, recorder

    yield open_page
    for context in contexts:
        context.close()


UET_SNIPPET = """
window.uetq = window.uetq || [];
%s
(function () {
  var n = document.createElement('script');
  n.src = 'https://bat.bing.com/bat.js';
  n.onload = function () { var o = {ti: '%s', enableAutoSpaTracking: false}; o.q = window.uetq;
                           window.uetq = new UET(o); window.uetq.push('pageLoad'); };
  document.head.appendChild(n);
})();
"""


def test_uet_stand_in_honours_consent_mode(bare):
    page, recorder = bare(UET_SNIPPET % ("uetq.push('consent', 'default', {ad_storage: 'denied'});", UET_TI))
    [load] = recorder.wait_for(page, lambda: _uet(recorder, "pageLoad"))
    # Denied: the request still goes out (only a firewall stops it), marked asc=D, with no ids and no cookies.
    assert load.params["asc"] == "D" and "sid" not in load.params and "vid" not in load.params
    assert [c["name"] for c in page.context.cookies()] == []

    page.evaluate("uetq.push('consent', 'update', {ad_storage: 'granted'}); uetq.push('event', 'purchase', {revenue_value: 5, currency: 'EUR'})")
    [event] = recorder.wait_for(page, lambda: _uet(recorder, "custom"))
    assert event.params["asc"] == "G" and event.params["ea"] == "purchase" and event.params["gv"] == "5"
    assert sorted(c["name"] for c in page.context.cookies()) == ["_uetsid", "_uetvid"]
    assert event.params["vid"] == {c["name"]: c["value"] for c in page.context.cookies()}["_uetvid"]


def test_uet_stand_in_without_consent_calls_is_granted(bare):
    page, recorder = bare(UET_SNIPPET % ("", UET_TI))
    [load] = recorder.wait_for(page, lambda: _uet(recorder, "pageLoad"))
    assert load.params["asc"] == "G" and load.params["sid"] and load.params["vid"]


def test_reddit_and_x_stand_ins_send_nothing_before_init_or_config(bare):
    page, recorder = bare("""
      !function (w, d) { var p = w.rdt = function () { p.sendEvent ? p.sendEvent.apply(p, arguments) : p.callQueue.push(arguments); };
        p.callQueue = []; } (window, document);
      !function (e) { var s = e.twq = function () { s.exe ? s.exe.apply(s, arguments) : s.queue.push(arguments); };
        s.version = '1.1'; s.queue = []; } (window);
      rdt('track', 'PageVisit');
      for (const src of ['https://www.redditstatic.com/ads/pixel.js', 'https://static.ads-twitter.com/uwt.js'])
        document.head.appendChild(Object.assign(document.createElement('script'), {src}));
    """)
    recorder.wait_for(page, recorder.libraries, count=2)
    recorder.wait_past_automatic_hits(page, 500)
    assert _reddit(recorder) == [] and _x(recorder) == []  # a track before init; no config: nothing
    page.evaluate(f"rdt('init', '{REDDIT_PIXEL}'); rdt('track', 'Custom', {{customEventName: 'Quiz'}}); twq('config', '{X_PIXEL}')")
    [custom] = recorder.wait_for(page, lambda: _reddit(recorder, "Custom"))
    assert custom.params["m.customEventName"] == "Quiz"
    assert [e.event for e in recorder.events() if e.vendor == "reddit_pixel"] == ["Quiz"]
    recorder.wait_for(page, lambda: _x(recorder, "t.co"))
    assert [(e.event, e.automatic) for e in recorder.events() if e.vendor == "x_pixel"] == [
        ("PageView", False), ("PageView", True)]

"""The three first-layer choices: Accept all, Reject all, Customize."""

from playwright.sync_api import expect

from gateway.testing import accept_all, reject_all

from .support import GA4_ID, META_PIXEL_ID, TIKTOK_PIXEL_ID


def test_accept_all_fires_each_page_view_exactly_once(shop, recorder):
    shop.open("/")
    consent = accept_all(shop.page)

    expect(shop.banner).to_be_hidden()
    [ga4] = recorder.assert_fired("ga4")
    [meta] = recorder.assert_fired("meta-pageview")
    [tiktok] = recorder.assert_fired("tiktok-pageview")
    recorder.wait_past_automatic_hits(shop.page)  # the vendors' own automatic hits are in, too

    assert (ga4.account, ga4.event, ga4.page) == (GA4_ID, "page_view", shop.page.url)
    assert (meta.account, meta.event) == (META_PIXEL_ID, "PageView")
    assert (tiktok.account, tiktok.event) == (TIKTOK_PIXEL_ID, "Pageview")
    # Each page view once; besides them only GA4's own enhanced-measurement scroll (if it came) and the
    # page's metadata, which TikTok's SDK reports by itself, once. No Google Ads hit.
    fired = [(e.tag_id, e.event) for e in recorder.events() if (e.vendor, e.event) != ("ga4", "scroll")]
    assert sorted(fired, key=str) == sorted(
        [("ga4", "page_view"), ("meta-pageview", "PageView"), ("tiktok-pageview", "Pageview"), (None, "Metadata")],
        key=str), recorder.report()
    assert all(e.tag_id is None for e in recorder.events() if e.event in ("scroll", "Metadata"))

    # Each vendor library (and Meta's pixel config) was loaded once, and nothing else was contacted.
    assert len(recorder.library("connect.facebook.net")) == 1
    assert len(recorder.library("www.googletagmanager.com")) == 1
    assert len(recorder.library("analytics.tiktok.com")) == 1
    assert len(recorder.meta_configs(META_PIXEL_ID)) == 1
    assert recorder.unexplained() == [] and recorder.unknown_third_parties() == [], recorder.report()
    assert sorted(consent["categories"]) == ["analytics", "marketing", "necessary"]


def test_add_to_cart_fires_meta_add_to_cart_once_per_click(shop, recorder):
    shop.open("/product.html")
    accept_all(shop.page)
    recorder.assert_fired("meta-pageview")
    button = shop.page.locator(".add-to-cart")

    button.click()
    [add_to_cart] = recorder.assert_fired("meta-add-to-cart", once=True, value=49.90, currency="EUR")
    assert (add_to_cart.account, add_to_cart.event) == (META_PIXEL_ID, "AddToCart")
    assert "SKU-42" in add_to_cart.params["content_ids"]

    button.click()
    recorder.assert_fired("meta-add-to-cart", times=2)


def test_reject_all_sends_nothing_on_this_and_later_pages(shop, recorder):
    shop.open("/")
    consent = reject_all(shop.page)

    expect(shop.banner).to_be_hidden()
    expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_visible()
    assert "analytics" not in consent["categories"]
    assert "marketing" not in consent["categories"]
    recorder.assert_silent(wait_ms=0)  # settled: nothing left, not even a library

    shop.open("/product.html")
    expect(shop.banner).to_be_hidden()
    shop.page.locator(".add-to-cart").click()
    recorder.assert_silent(wait_ms=0)

    shop.reload()
    expect(shop.banner).to_be_hidden()
    expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_visible()
    assert shop.state() == "decided"
    recorder.assert_silent(wait_ms=0)


def test_customize_analytics_only_fires_only_ga4(shop, recorder):
    shop.open("/")
    shop.button(shop.banner, "Customize").click()

    preferences = shop.preferences
    expect(preferences).to_be_visible()
    necessary = preferences.get_by_role("checkbox", name="Necessary", exact=True)
    expect(necessary).to_be_checked()
    expect(necessary).to_be_disabled()
    # Nothing optional is pre-ticked.
    expect(preferences.get_by_role("checkbox", name="Analytics", exact=True)).not_to_be_checked()
    expect(preferences.get_by_role("checkbox", name="Marketing", exact=True)).not_to_be_checked()

    shop.save_preferences(analytics=True)  # the dialog is what this test is about: ticked as a visitor does

    recorder.assert_fired("ga4", once=True)
    fired = [(e.tag_id, e.event) for e in recorder.events() if (e.vendor, e.event) != ("ga4", "scroll")]
    assert fired == [("ga4", "page_view")], recorder.report()
    # Only gtag.js and GA4's collector were contacted.
    assert {r.host for r in recorder.requests} == {
        "www.googletagmanager.com",
        "region1.google-analytics.com",
    }, recorder.report()
    assert sorted(shop.consent()["categories"]) == ["analytics", "necessary"]

"""The three first-layer choices: Accept all, Reject all, Customize."""

import json

from playwright.sync_api import expect

from .support import GA4_ID, META_PIXEL_ID, TIKTOK_PIXEL_ID


def test_accept_all_fires_each_page_view_exactly_once(shop, recorder):
    shop.open("/")
    shop.accept_all()

    expect(shop.banner).to_be_hidden()
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    recorder.wait_for(shop.page, lambda: recorder.meta("PageView"))
    recorder.wait_for(shop.page, lambda: recorder.tiktok("Pageview"))
    recorder.wait_past_automatic_hits(shop.page)  # the vendors' own automatic hits are in, too

    [ga4] = recorder.ga4("page_view")
    assert ga4.params["en"] == "page_view"
    assert ga4.params["tid"] == GA4_ID
    assert ga4.params["dl"] == shop.page.url
    # Besides the page view, GA4 only sent its own enhanced-measurement scroll.
    assert {hit.params["en"] for hit in recorder.ga4()} <= {"page_view", "scroll"}, recorder.describe()

    [meta] = recorder.meta()
    assert meta.params["ev"] == "PageView"
    assert meta.params["id"] == META_PIXEL_ID

    [tiktok] = recorder.tiktok()
    body = tiktok.json()
    assert body["event"] == "Pageview"
    assert body["context"]["pixel"]["code"] == TIKTOK_PIXEL_ID
    # TikTok's SDK reports the page's metadata by itself, once.
    assert [hit.json()["event"] for hit in recorder.tiktok_act()] == ["Metadata"], recorder.describe()

    # Each vendor library (and Meta's pixel config) was loaded once, and nothing else was contacted.
    assert len(recorder.library("connect.facebook.net")) == 1
    assert len(recorder.library("www.googletagmanager.com")) == 1
    assert len(recorder.library("analytics.tiktok.com")) == 1
    assert len(recorder.meta_configs(META_PIXEL_ID)) == 1
    assert recorder.ads_conversions() == [] and recorder.ads_remarketing() == []
    accounted = (
        recorder.libraries() + recorder.meta_configs() + recorder.ga4_requests()
        + [hit.request for hit in recorder.meta() + recorder.tiktok() + recorder.tiktok_act()]
    )
    assert len(accounted) == len(recorder.requests), recorder.describe()
    assert sorted(shop.consent()["categories"]) == ["analytics", "marketing", "necessary"]


def test_add_to_cart_fires_meta_add_to_cart_once_per_click(shop, recorder):
    shop.open("/product.html")
    shop.accept_all()
    recorder.wait_for(shop.page, lambda: recorder.meta("PageView"))
    button = shop.page.locator(".add-to-cart")

    button.click()
    [add_to_cart] = recorder.wait_for(shop.page, lambda: recorder.meta("AddToCart"))
    shop.settle()

    assert len(recorder.meta("AddToCart")) == 1, recorder.describe()
    assert add_to_cart.params["id"] == META_PIXEL_ID
    assert "SKU-42" in json.loads(add_to_cart.params["cd[content_ids]"])
    assert float(add_to_cart.params["cd[value]"]) == 49.90
    assert add_to_cart.params["cd[currency]"] == "EUR"

    button.click()
    recorder.wait_for(shop.page, lambda: recorder.meta("AddToCart"), count=2)
    shop.settle()
    assert len(recorder.meta("AddToCart")) == 2, recorder.describe()


def test_reject_all_sends_nothing_on_this_and_later_pages(shop, recorder):
    shop.open("/")
    shop.reject_all()

    expect(shop.banner).to_be_hidden()
    expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_visible()
    consent = shop.consent()
    assert "analytics" not in consent["categories"]
    assert "marketing" not in consent["categories"]
    shop.settle()
    assert recorder.requests == [], recorder.describe()

    shop.open("/product.html")
    expect(shop.banner).to_be_hidden()
    shop.page.locator(".add-to-cart").click()
    shop.settle()
    assert recorder.requests == [], recorder.describe()

    shop.reload()
    expect(shop.banner).to_be_hidden()
    expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_visible()
    assert shop.state() == "decided"
    shop.settle()
    assert recorder.requests == [], recorder.describe()


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

    shop.save_preferences(analytics=True)

    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    shop.settle()
    assert {r.host for r in recorder.requests} == {
        "www.googletagmanager.com",
        "region1.google-analytics.com",
    }, recorder.describe()
    assert len(recorder.ga4("page_view")) == 1
    assert sorted(shop.consent()["categories"]) == ["analytics", "necessary"]

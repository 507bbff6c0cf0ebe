"""A choice is remembered across pages, reloads and tabs."""

from playwright.sync_api import expect

from gateway.testing import accept_all, choose

from .support import Shop


def _expect_page_view_everywhere(shop, recorder):
    for tag in ("ga4", "meta-pageview", "tiktok-pageview"):  # each page view exactly once, on this tab
        recorder.assert_fired(tag, once=True, page=shop.page)


def test_accept_all_persists_across_pages_reloads_and_tabs(shop, recorder, context):
    shop.open("/")
    accept_all(shop.page)
    recorder.assert_fired("ga4", once=True)

    recorder.clear()
    shop.open("/product.html")
    expect(shop.banner).to_be_hidden()
    assert shop.state() == "decided"
    _expect_page_view_everywhere(shop, recorder)

    recorder.clear()
    shop.reload()
    expect(shop.banner).to_be_hidden()
    _expect_page_view_everywhere(shop, recorder)

    recorder.clear()
    other_tab = Shop(context.new_page(), shop.base_url, recorder).open("/cart.html")
    expect(other_tab.banner).to_be_hidden()
    _expect_page_view_everywhere(other_tab, recorder)


def test_analytics_only_choice_persists(shop, recorder):
    shop.open("/")
    choose(shop.page, ["analytics"])
    recorder.assert_fired("ga4", once=True)

    recorder.clear()
    shop.open("/product.html")
    expect(shop.banner).to_be_hidden()
    recorder.assert_fired("ga4")
    shop.page.locator(".add-to-cart").click()
    shop.settle()

    assert {e.vendor for e in recorder.events()} == {"ga4"}, recorder.report()  # no Meta, no TikTok
    assert {r.host for r in recorder.requests} == {
        "www.googletagmanager.com",
        "region1.google-analytics.com",
    }, recorder.report()

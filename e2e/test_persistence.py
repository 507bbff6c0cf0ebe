"""A choice is remembered across pages, reloads and tabs."""

from playwright.sync_api import expect

from .support import Shop


def _expect_page_view_everywhere(shop, recorder):
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    recorder.wait_for(shop.page, lambda: recorder.meta("PageView"))
    recorder.wait_for(shop.page, lambda: recorder.tiktok("Pageview"))
    shop.settle()
    assert len(recorder.ga4("page_view")) == 1, recorder.describe()
    assert len(recorder.meta("PageView")) == 1, recorder.describe()
    assert len(recorder.tiktok("Pageview")) == 1, recorder.describe()


def test_accept_all_persists_across_pages_reloads_and_tabs(shop, recorder, context):
    shop.open("/")
    shop.accept_all()
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    shop.settle()

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
    shop.customize(analytics=True, marketing=False)
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    shop.settle()

    recorder.clear()
    shop.open("/product.html")
    expect(shop.banner).to_be_hidden()
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    shop.page.locator(".add-to-cart").click()
    shop.settle()

    assert recorder.meta() == [] and recorder.tiktok() == [], recorder.describe()
    assert {r.host for r in recorder.requests} == {
        "www.googletagmanager.com",
        "region1.google-analytics.com",
    }, recorder.describe()

"""A visitor who has not chosen yet sees the banner, and no vendor hears anything."""

from playwright.sync_api import expect


def test_first_visit_shows_banner_and_sends_nothing(shop, recorder):
    shop.open("/")

    expect(shop.banner).to_be_visible()
    assert shop.state() == "undecided"
    assert shop.consent() is None
    recorder.assert_silent(wait_ms=0)  # settled: no vendor request, not even a library


def test_purchase_push_before_consent_sends_nothing(shop, recorder):
    shop.open("/thank-you.html")

    expect(shop.banner).to_be_visible()
    expect(shop.page.locator("#order-id")).to_have_text("ORD-1001")
    recorder.assert_silent(wait_ms=0)  # settled: no vendor request, not even a library


def test_add_to_cart_click_before_consent_sends_nothing(shop, recorder):
    shop.open("/product.html")
    expect(shop.banner).to_be_visible()

    shop.page.locator(".add-to-cart").click()

    expect(shop.page.locator(".added-message")).to_have_text("Added")
    recorder.assert_silent(wait_ms=0)  # settled: no vendor request, not even a library

"""Opt-out regions (California and the other US states with privacy laws) and Global Privacy Control.

The visitor's place reaches the gateway the way it would behind Cloudflare: CF-IPCountry and
CF-Region-Code headers from a trusted proxy. Here the browser adds them to every request and the
gateway trusts its loopback peer, as the example config does.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gateway.testing import accept_all, context_options, opt_out, visit_as

from .support import Shop

DO_NOT_SELL = "Do Not Sell or Share My Personal Information"
NOTICE_LINK = 'the notice\'s "Do Not Sell or Share" link'  # what the kit's opt_out() says it used
HONORED = "Opt-Out Request Honored"


@pytest.fixture
def californian(context, shop: Shop) -> Shop:
    visit_as(context, region="US-CA")
    return shop


def test_california_fires_without_a_click_and_the_link_opts_out_at_once(californian: Shop, recorder, context):
    shop = californian
    shop.open("/product.html")
    # No banner: the notice at collection, and the configured tags fire on the first page.
    expect(shop.page.get_by_role("button", name=DO_NOT_SELL)).to_be_visible()
    expect(shop.banner).to_be_hidden()
    recorder.assert_fired("ga4")
    recorder.assert_fired("meta-pageview")
    recorder.assert_fired("tiktok-pageview")
    assert shop.state() == "undecided" and shop.consent() is None

    stored, how = opt_out(shop.page)  # the notice's button, as the visitor clicks it
    assert how == NOTICE_LINK
    expect(shop.page.get_by_text(HONORED)).to_be_visible()
    assert stored["categories"] == ["necessary", "analytics"] and stored["action"] == "opt_out_link"
    assert stored["rule"] == "opt_out"

    recorder.clear()
    shop.page.locator(".add-to-cart").click()
    shop.page.evaluate("() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-9', value: 5, currency: 'USD'}})")
    recorder.assert_fired("ga4-purchase", transaction_id="T-9")
    recorder.assert_silent(categories=["marketing"])  # from the click on: no marketing request at all

    # Every later page: marketing stays off, analytics goes on, the opt-out is shown as honored.
    recorder.clear()
    shop.open("/")
    recorder.assert_fired("ga4")
    recorder.assert_silent(categories=["marketing"])
    expect(shop.page.get_by_text(HONORED)).to_be_visible()


def test_california_with_gpc_never_sends_marketing(context, shop: Shop, recorder):
    visit_as(context, region="US-CA", gpc=True)
    shop.open("/product.html")
    expect(shop.page.get_by_text(HONORED)).to_be_visible()
    expect(shop.page.get_by_role("button", name=DO_NOT_SELL)).to_be_hidden()
    shop.page.wait_for_function("() => tagGateway.state === 'decided'")
    assert shop.consent()["action"] == "gpc" and shop.consent()["gpc"] is True
    recorder.assert_fired("ga4")
    shop.page.locator(".add-to-cart").click()
    recorder.assert_silent(categories=["marketing"])
    shop.page.evaluate("() => tagGateway.showPreferences()")
    expect(shop.preferences.get_by_text(HONORED)).to_be_visible()


def test_a_later_visit_without_the_signal_does_not_opt_back_in(browser, gateway):
    from .support import new_recorded_context

    # The signal as a header only, so that it can be taken away below (an init script cannot).
    context, recorder = new_recorded_context(browser, **context_options(region="US-CA", gpc=True))
    try:
        page = context.new_page()
        shop = Shop(page, gateway.url, recorder)
        shop.open("/")
        page.wait_for_function("() => tagGateway.state === 'decided'")
        # The signal is gone (another browser setting, or the extension switched off).
        visit_as(context, region="US-CA")
        recorder.clear()
        shop.open("/product.html")
        recorder.assert_fired("ga4")
        recorder.assert_silent(categories=["marketing"])
        assert shop.consent()["action"] == "gpc"
    finally:
        context.close()


def test_the_opt_out_holds_while_the_consent_log_is_down(postgres_gateway, postgres_server, context, page, recorder):
    visit_as(context, region="US-CA")
    shop = Shop(page, postgres_gateway.url, recorder)
    shop.open("/product.html")
    recorder.assert_fired("meta-pageview")
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if r.request.method == "POST" and r.url.endswith("/consent") else None)

    postgres_server.stop()  # the consent log cannot take a write: POST /consent answers 503
    try:
        # Clicked by hand: the kit's opt_out() waits for a stored choice, and this one cannot be stored.
        page.get_by_role("button", name=DO_NOT_SELL).click()
        expect(page.get_by_text(HONORED)).to_be_visible()
        recorder.clear()
        page.locator(".add-to-cart").click()
        recorder.assert_silent(categories=["marketing"])
        # The next page: the browser's marker keeps marketing off, and the choice is sent again.
        shop.open("/")
        recorder.assert_fired("ga4")
        recorder.assert_silent(categories=["marketing"])
        assert answers == [503, 503] and shop.consent() is None
    finally:
        postgres_server.start()

    shop.open("/cart.html")  # the log is back: this page's retry is stored
    page.wait_for_function("() => tagGateway.state === 'decided'")
    assert answers[-1] == 200 and shop.consent()["action"] == "opt_out_link"
    exported = postgres_gateway.consents("export")
    assert exported.returncode == 0 and shop.consent()["id"] in exported.stdout
    assert exported.stdout.count("\n") == 1  # the two refused attempts left nothing behind


def test_the_store_footer_can_offer_the_opt_out(californian: Shop, recorder):
    shop = californian
    shop.open("/")
    recorder.assert_fired("meta-pageview")
    shop.page.get_by_role("button", name="Close").click()  # the notice is dismissed ...
    expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_visible()  # ... a control stays
    stored, how = opt_out(shop.page)  # no link left on the page: what a footer link calls, tagGateway.optOut()
    assert how.startswith("tagGateway.optOut()"), how
    assert "marketing" not in stored["categories"]
    # The preferences show what is allowed now, and the consent id a data-subject request can quote.
    shop.page.get_by_role("button", name="Privacy settings").click()
    expect(shop.preferences).to_be_visible()
    expect(shop.preferences.get_by_role("checkbox", name="Analytics", exact=True)).to_be_checked()
    expect(shop.preferences.get_by_role("checkbox", name="Marketing", exact=True)).not_to_be_checked()
    expect(shop.preferences.get_by_text(shop.consent()["id"])).to_be_visible()


def test_a_german_visitor_is_asked_first(context, shop: Shop, recorder):
    visit_as(context, region="DE", gpc=True)
    shop.open("/product.html")
    expect(shop.banner).to_be_visible()
    expect(shop.page.get_by_role("button", name=DO_NOT_SELL)).to_have_count(0)
    recorder.assert_silent()
    # An explicit choice in the banner wins over the signal; the record keeps both.
    stored = accept_all(shop.page)
    assert stored["gpc"] is True and "marketing" in stored["categories"]
    recorder.assert_fired("meta-pageview")


def test_restricted_mode_keeps_meta_and_google_ads_firing_limited(tmp_path, gateway_factory, context, page, recorder):
    """`after_opt_out: restricted`: after the opt-out, Meta sends with Limited Data Use and Google Ads
    with restricted data processing; TikTok (no restricted mode) stops."""
    import shutil

    from .support import DEFAULT_CONFIG_DIR

    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    tags = configs / "tags.yaml"
    text = tags.read_text().replace("    meta_pixel: {pixel_id: \"1234567890\"}\n",
                                    "    after_opt_out: restricted\n    meta_pixel: {pixel_id: \"1234567890\"}\n")
    tags.write_text(text.replace("    google_ads:\n", "    after_opt_out: restricted\n    google_ads:\n"))
    server = gateway_factory(configs)
    visit_as(context, region="US-CA")
    recorder.use_config(configs)
    Shop(page, server.url, recorder).open("/product.html")
    first = recorder.assert_fired("meta-pageview")[0]
    assert first.signals.get("dpo", "") == ""  # before the opt-out: no restriction

    assert opt_out(page)[1] == NOTICE_LINK
    recorder.clear()
    page.evaluate("() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-5', value: 12, currency: 'USD'}})")
    purchase = recorder.assert_fired("meta-purchase", value=12, currency="USD")[0]
    assert (purchase.signals["dpo"], purchase.signals["dpoco"], purchase.signals["dpost"]) == ("LDU", "1", "1000")
    conversion = recorder.assert_fired("google-ads-conversion", transaction_id="T-5")[0]
    assert conversion.signals["rdp"] == "1" and conversion.signals["gcs"] in ("G100", "G101")
    recorder.wait_past_automatic_hits(page)
    assert [e for e in recorder.events() if e.vendor == "tiktok_pixel"] == [], recorder.report()


def test_the_privacy_choices_link_opens_the_choices(tmp_path, gateway_factory, context, page, recorder):
    import shutil

    from .support import DEFAULT_CONFIG_DIR

    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    site = configs / "site.yaml"
    site.write_text(site.read_text().replace("  default: opt_in\n", "  default: opt_in\n  opt_out_link: privacy_choices\n"))
    server = gateway_factory(configs)
    visit_as(context, region="US-CA")
    shop = Shop(page, server.url, recorder).open("/product.html")
    recorder.assert_fired("meta-pageview")
    link = page.get_by_role("button", name="Your Privacy Choices")
    expect(link).to_be_visible()
    expect(link.locator("svg")).to_be_visible()  # the CPRA icon beside the words
    link.click()  # by hand: this test is about the dialog it opens (the kit's opt_out() would save it at once)
    expect(shop.preferences.get_by_role("checkbox", name="Marketing", exact=True)).to_be_checked()  # fires now
    shop.save_preferences(analytics=True, marketing=False)
    assert "tg_optout=1" in page.evaluate("() => document.cookie")  # kept by the browser at once
    recorder.clear()
    shop.open("/")
    recorder.assert_fired("ga4")
    recorder.assert_silent(categories=["marketing"])

"""Per-vendor choices and disclosure in a real Chromium (issue 10): with site.vendor_choice, a visitor who allows
Marketing but switches TikTok off gets Meta and not TikTok, on this page and the next; the consent firewall
stops a TikTok request a page script makes; switching TikTok back on lets it fire. The vendor list (cookies,
lifetimes, privacy-policy links) is in the preferences either way, and axe finds nothing wrong with it."""

from __future__ import annotations

import shutil

import pytest

from playwright.sync_api import expect

from .support import DEFAULT_CONFIG_DIR, Shop
from .test_keyboard_and_a11y import BANNER_HOST_SELECTOR, _assert_no_axe_violations

TIKTOK_BEACON = """() => { navigator.sendBeacon('https://analytics.tiktok.com/api/v2/pixel', JSON.stringify({event: 'StoreBeacon'}));
  const img = document.createElement('img'); img.src = 'https://www.facebook.com/tr/?id=1234567890&ev=StorePixel';
  document.body.appendChild(img); }"""


def vendor_choice_shop(gateway_factory, tmp_path, page, recorder) -> Shop:
    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    site = (configs / "site.yaml").read_text()
    (configs / "site.yaml").write_text(site.replace("  auto_blocking: true\n", "  auto_blocking: true\n  vendor_choice: true\n"))
    return Shop(page, gateway_factory(configs).url, recorder)


def marketing_vendors(shop: Shop):
    """The Marketing category's vendor list, opened."""
    details = shop.preferences.locator("details").filter(has_text="Meta Pixel")
    if not details.evaluate("d => d.open"):
        details.locator("summary").click()
    return details


def save(shop: Shop) -> None:
    before = shop.consent_events()
    shop.button(shop.preferences, "Save choices").click()
    shop.wait_for_new_choice(before)


def tiktok_requests(recorder) -> list:
    return [r for r in recorder.requests if r.host.endswith("tiktok.com")]


def test_refusing_tiktok_fires_meta_and_not_tiktok_on_this_page_and_the_next(gateway_factory, tmp_path, page, recorder):
    shop = vendor_choice_shop(gateway_factory, tmp_path, page, recorder)
    shop.open("/product.html")
    shop.button(shop.banner, "Customize").click()
    expect(shop.preferences).to_be_visible()
    shop.preferences.get_by_role("checkbox", name="Marketing", exact=True).check()
    vendors = marketing_vendors(shop)
    # Switching the category on switched its vendors on; TikTok alone goes off.
    expect(vendors.get_by_role("checkbox", name="Meta Pixel")).to_be_checked()
    vendors.get_by_role("checkbox", name="TikTok Pixel").uncheck()
    save(shop)
    assert shop.consent()["vendors_refused"] == ["tiktok_pixel"]
    assert shop.consent()["categories"] == ["necessary", "marketing"]
    recorder.assert_fired("meta-pageview", once=True)
    # The page's own script: the Meta pixel goes (marketing allowed), the TikTok beacon is stopped.
    shop.page.evaluate(TIKTOK_BEACON)
    recorder.wait_for(shop.page, lambda: [e for e in recorder.events() if e.event == "StorePixel"])
    shop.settle()
    assert recorder.events("tiktok-pageview") == [] and tiktok_requests(recorder) == []

    # The next page: the stored choice still refuses TikTok.
    recorder.clear()
    shop.open("/")
    recorder.assert_fired("meta-pageview", once=True)
    shop.settle()
    assert tiktok_requests(recorder) == []

    # Switched back on in the preferences: TikTok fires from its next trigger (the next page view).
    shop.page.evaluate("() => tagGateway.showPreferences()")
    expect(shop.preferences).to_be_visible()
    vendors = marketing_vendors(shop)
    expect(vendors.get_by_role("checkbox", name="TikTok Pixel")).not_to_be_checked()
    expect(vendors.get_by_role("checkbox", name="Meta Pixel")).to_be_checked()
    vendors.get_by_role("checkbox", name="TikTok Pixel").check()
    save(shop)
    assert shop.consent()["vendors_refused"] == []
    recorder.clear()
    shop.open("/product.html")
    recorder.assert_fired("tiktok-pageview")
    recorder.assert_fired("meta-pageview")

    # Withdrawn again: TikTok stops at once, its cookie goes, Meta keeps firing.
    shop.page.evaluate("() => tagGateway.showPreferences()")
    marketing_vendors(shop).get_by_role("checkbox", name="TikTok Pixel").uncheck()
    save(shop)
    recorder.clear()
    shop.page.evaluate(TIKTOK_BEACON)
    recorder.wait_for(shop.page, lambda: [e for e in recorder.events() if e.event == "StorePixel"])
    shop.settle()
    assert tiktok_requests(recorder) == []
    # TikTok's SDK, still on this page, may write its cookie again; the next page removes it for good.
    shop.open("/")
    recorder.assert_fired("meta-pageview")
    shop.settle()
    assert tiktok_requests(recorder) == []
    cookies = {c["name"] for c in shop.page.context.cookies()}
    assert "_ttp" not in cookies and "_fbp" in cookies


def test_without_vendor_choice_there_are_no_vendor_switches_but_the_list(shop, recorder):
    shop.open("/")
    shop.button(shop.banner, "Customize").click()
    vendors = marketing_vendors(shop)
    expect(vendors.get_by_role("checkbox")).to_have_count(0)
    expect(vendors.get_by_role("link", name="Privacy policy of TikTok Pixel")).to_have_attribute(
        "href", "https://www.tiktok.com/legal/page/eea/privacy-policy/en")
    expect(vendors).to_contain_text("_fbp (90 days)")


def test_the_vendor_list_and_switches_have_no_axe_violations(gateway_factory, tmp_path, page, recorder):
    shop = vendor_choice_shop(gateway_factory, tmp_path, page, recorder)
    shop.open("/")
    shop.button(shop.banner, "Customize").click()
    expect(shop.preferences).to_be_visible()
    for summary in shop.preferences.locator("summary").all():
        summary.click()
    expect(shop.preferences.get_by_role("checkbox", name="TikTok Pixel")).to_be_visible()
    _assert_no_axe_violations(shop.page, "preferences with vendors", {"include": [[shop.page.evaluate(BANNER_HOST_SELECTOR)]]})


GOOGLE_ADS_HOSTS = ("googleadservices.com", "googleads.g.doubleclick.net", "google.com")


def _google_ads_requests(recorder) -> list:
    """What Google Ads would receive: its library (gtag/js?id=AW-...) or a conversion or remarketing hit."""
    return [r for r in recorder.requests if "AW-" in r.url or r.host.endswith(GOOGLE_ADS_HOSTS)]


def _allow_with_google_ads_refused(shop: Shop, categories: list[str]) -> None:
    shop.open("/product.html")
    shop.button(shop.banner, "Customize").click()
    expect(shop.preferences).to_be_visible()
    for name in categories:
        shop.preferences.get_by_role("checkbox", name=name, exact=True).check()
    marketing_vendors(shop).get_by_role("checkbox", name="Google Ads").uncheck()
    save(shop)
    assert shop.consent()["vendors_refused"] == ["google_ads"]


def test_a_refused_google_ads_sends_nothing_and_ga4_tells_google_ad_storage_is_denied(gateway_factory, tmp_path, page, recorder):
    """By design a refused vendor's tags are blocked, not downgraded to Consent Mode pings: the Google Ads tag
    does not fire, its library is never requested and the firewall stops its hosts (so not even a cookieless
    ping leaves). Consent Mode still matters for the Google vendor the visitor allowed: GA4 shares gtag.js
    with Google Ads, and the container keeps every consent type whose Google vendors are all refused denied
    (CONFIG.gcm.v: ad_storage, ad_user_data and ad_personalization are Google Ads' alone), although Marketing is
    allowed. On the wire that is `gcs=G101` on GA4's hits: Google's format is G1 followed by ad_storage then
    analytics_storage, 1 granted and 0 denied. Meta, in the same category, fires."""
    shop = vendor_choice_shop(gateway_factory, tmp_path, page, recorder)
    _allow_with_google_ads_refused(shop, ["Analytics", "Marketing"])
    page_view = recorder.assert_fired("ga4")[0]
    assert page_view.signals["gcs"] == "G101", page_view
    recorder.assert_fired("meta-pageview", once=True)
    shop.page.evaluate("""() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-90', value: 20, currency: 'EUR'}})""")
    assert recorder.assert_fired("ga4-purchase", transaction_id="T-90")[0].signals["gcs"] == "G101"
    recorder.assert_fired("meta-purchase")
    # A page script's own conversion ping to Google Ads is stopped as well.
    shop.page.evaluate("() => { new Image().src = 'https://www.googleadservices.com/pagead/conversion/987654321/?label=x'; }")
    shop.settle()
    assert recorder.events("google-ads-conversion") == [] and _google_ads_requests(recorder) == [], recorder.report()


def test_with_google_ads_refused_and_analytics_declined_no_google_request_leaves(gateway_factory, tmp_path, page, recorder):
    """Marketing allowed with Google Ads refused, Analytics declined: no Google vendor may fire, so gtag.js is
    never even loaded (no Consent Mode ping, denied or not, can leave); Meta and TikTok fire."""
    shop = vendor_choice_shop(gateway_factory, tmp_path, page, recorder)
    _allow_with_google_ads_refused(shop, ["Marketing"])
    recorder.assert_fired("meta-pageview", once=True)
    recorder.assert_fired("tiktok-pageview")
    shop.page.evaluate("""() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-91', value: 20, currency: 'EUR'}})""")
    recorder.assert_fired("meta-purchase")
    shop.settle()
    google = [r for r in recorder.requests if "google" in r.host or "doubleclick" in r.host]
    assert google == [], recorder.report()


def _add_tiktok_later(gateway_factory, tmp_path, page, recorder, vendor_choice: bool) -> tuple:
    """A shop whose visitor accepted all while TikTok was disabled; then TikTok is enabled (a vendor in
    Marketing the visitor was never shown). Returns the shop and the server."""
    from .test_config_changes import _edit, _wait_for_container

    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    if vendor_choice:
        site = (configs / "site.yaml").read_text()
        (configs / "site.yaml").write_text(site.replace("  auto_blocking: true\n", "  auto_blocking: true\n  vendor_choice: true\n"))
    _edit(configs, "    tiktok_pixel: {pixel_id: CEXAMPLE0TIKTOK00001}\n",
          "    tiktok_pixel: {pixel_id: CEXAMPLE0TIKTOK00001}\n    enabled: false\n")
    server = gateway_factory(configs)
    recorder.use_config(configs)
    shop = Shop(page, server.url, recorder)
    shop.open("/product.html")
    before = shop.consent_events()
    shop.button(shop.banner, "Accept all").click()
    shop.wait_for_new_choice(before)
    recorder.assert_fired("meta-pageview", once=True)

    _edit(configs, "    enabled: false\n", "")
    _wait_for_container(server, lambda script: "tiktok_pixel" in script)
    recorder.use_config(configs)
    recorder.clear()
    return shop, server


THANK_YOU = "/thank-you.html?order=ORD-REASK-1"


def test_a_vendor_added_later_does_not_fire_until_the_visitor_is_asked_again(gateway_factory, tmp_path, page, recorder):
    """The token records the vendors shown at choice time. TikTok, added to Marketing after the visitor allowed
    Marketing (Meta, Google Ads), gets nothing on the next page (a thank-you page), where the banner asks again
    while Meta keeps firing; once the visitor accepts again, TikTok gets that same page's page view and
    purchase, once each, and no other tag fires a second time."""
    shop, _ = _add_tiktok_later(gateway_factory, tmp_path, page, recorder, vendor_choice=True)
    shop.open(THANK_YOU)
    expect(shop.banner).to_be_visible()
    recorder.assert_fired("meta-pageview", once=True)
    recorder.assert_fired("meta-purchase", once=True)
    recorder.assert_fired("ga4-purchase", once=True)
    assert shop.consent()["vendors_refused"] == ["tiktok_pixel"]
    shop.settle()
    assert tiktok_requests(recorder) == [] and recorder.events("tiktok-pageview") == []

    before = shop.consent_events()
    shop.button(shop.banner, "Accept all").click()
    shop.wait_for_new_choice(before)
    assert shop.consent()["vendors_refused"] == []
    # The same page: TikTok's page view and purchase replayed once; the others did not fire again.
    recorder.assert_fired("tiktok-pageview", once=True)
    recorder.assert_fired("tiktok-purchase", once=True, value=59.9)
    for tag in ("meta-pageview", "meta-purchase", "ga4", "ga4-purchase", "google-ads-conversion"):
        recorder.assert_fired(tag, once=True)
    # A later push on this page fires each allowed tag once, live (nothing is held any more).
    recorder.clear()
    shop.page.evaluate("() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'ORD-REASK-2', value: 10, currency: 'EUR'}})")
    recorder.assert_fired("tiktok-purchase", once=True, value=10)
    recorder.assert_fired("meta-purchase", once=True, value=10)

    recorder.clear()
    shop.open("/")
    recorder.assert_fired("tiktok-pageview", once=True)
    recorder.assert_fired("meta-pageview", once=True)
    expect(shop.banner).to_be_hidden()


@pytest.mark.parametrize("answer", ["Accept all", "Reject all"])
def test_without_vendor_choice_a_category_that_gained_a_vendor_waits_for_the_new_answer(gateway_factory, tmp_path, page, recorder, answer):
    """Without vendor_choice a category is all a visitor can grant: Marketing, which gained TikTok, is held back
    as a whole on the page that asks again (Analytics, still allowed, fires). Accept all there fires Marketing's
    tags for that page's page view, once each, TikTok's too; Reject all fires nothing of Marketing."""
    shop, _ = _add_tiktok_later(gateway_factory, tmp_path, page, recorder, vendor_choice=False)
    shop.open("/product.html")
    expect(shop.banner).to_be_visible()
    recorder.assert_fired("ga4", once=True)
    assert shop.consent()["categories"] == ["necessary", "analytics"]
    shop.settle()
    assert recorder.requests_of(["marketing"]) == []

    before = shop.consent_events()
    shop.button(shop.banner, answer).click()
    shop.wait_for_new_choice(before)
    if answer == "Accept all":
        assert "marketing" in shop.consent()["categories"]
        recorder.assert_fired("tiktok-pageview", once=True)
        recorder.assert_fired("meta-pageview", once=True)
        recorder.assert_fired("ga4", once=True)
    else:
        assert shop.consent()["categories"] == ["necessary"]
        recorder.assert_silent(categories=["marketing"])
        recorder.assert_fired("ga4", once=True)  # fired before the answer, not again

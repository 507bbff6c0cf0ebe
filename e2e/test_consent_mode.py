"""Google Consent Mode v2 and the other vendors' consent switches, seen from the wire.

The gtag.js stand-in encodes `gcs` from the gtag('consent', ...) commands it processed, as the
real library does, so the hits tell whether Google was told what the visitor chose.
"""

from __future__ import annotations

import json
import shutil

from gateway.testing import accept_all, choose, withdraw

from .support import ADS_CONVERSION_LABEL, DEFAULT_CONFIG_DIR, GA4_ID, Shop

# Snapshot the gtag data layer at the moment the first Google library <script> is inserted.
WATCH_GTAG_LOAD = """
window.__gtagLayerAtLoad = null;
new MutationObserver(function (records, observer) {
  records.forEach(function (r) {
    r.addedNodes.forEach(function (n) {
      if (window.__gtagLayerAtLoad === null && n.tagName === 'SCRIPT' && /googletagmanager\\.com\\/gtag\\/js/.test(n.src)) {
        window.__gtagLayerAtLoad = JSON.stringify(Array.from(window.tgGtagLayer || [], function (a) { return Array.from(a); }));
      }
    });
  });
}).observe(document, {childList: true, subtree: true});
"""

DENIED_DEFAULT = {
    "ad_storage": "denied", "analytics_storage": "denied", "ad_user_data": "denied",
    "ad_personalization": "denied", "functionality_storage": "granted",
    "personalization_storage": "denied", "security_storage": "granted",
}


def consent_commands(page) -> list[list]:
    return page.evaluate("""() => Array.from(window.tgGtagLayer || [], a => Array.from(a))
                                     .filter(a => a[0] === 'consent')""")


def test_consent_default_comes_before_the_first_google_library(shop: Shop, recorder, context):
    context.add_init_script(WATCH_GTAG_LOAD)
    shop.open("/")
    # Before any choice: the defaults are queued, and no Google library was even requested.
    assert consent_commands(shop.page) == [["consent", "default", DENIED_DEFAULT]]
    assert recorder.library("www.googletagmanager.com") == []

    accept_all(shop.page)
    recorder.assert_fired("ga4")
    at_load = json.loads(shop.page.evaluate("() => window.__gtagLayerAtLoad"))
    assert at_load[0] == ["consent", "default", DENIED_DEFAULT], at_load
    updates = [c for c in at_load if c[0] == "consent"][1:]
    assert updates and updates[-1][2]["analytics_storage"] == "granted" and updates[-1][2]["ad_storage"] == "granted"
    assert ["set", "ads_data_redaction", True] in at_load


def test_accept_all_hits_carry_g111(shop: Shop, recorder):
    shop.open("/product.html")
    accept_all(shop.page)
    page_view = recorder.assert_fired("ga4")[0]
    assert page_view.signals["gcs"] == "G111", page_view
    assert page_view.account == GA4_ID

    shop.page.evaluate("""() => dataLayer.push({event: 'purchase', ecommerce: {
        transaction_id: 'T-77', value: 59.9, currency: 'EUR', items: [{item_id: 'SKU-42', price: 59.9, quantity: 1}]}})""")
    conversion = recorder.assert_fired("google-ads-conversion", value=59.9, currency="EUR", transaction_id="T-77")[0]
    assert conversion.label == ADS_CONVERSION_LABEL
    assert conversion.signals["gcs"] == "G111"
    purchase = recorder.assert_fired("ga4-purchase")[0]
    assert purchase.signals["gcs"] == "G111"


def test_analytics_only_hits_carry_g101_and_google_ads_stays_away(shop: Shop, recorder):
    shop.open("/")
    choose(shop.page, ["analytics"])
    page_view = recorder.assert_fired("ga4")[0]
    assert page_view.signals["gcs"] == "G101", page_view
    last = consent_commands(shop.page)[-1]
    assert last[1] == "update" and last[2]["ad_user_data"] == "denied" and last[2]["ad_personalization"] == "denied"

    shop.page.evaluate("() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-78', value: 10, currency: 'EUR'}})")
    recorder.assert_fired("ga4-purchase", transaction_id="T-78")
    recorder.assert_silent(wait_ms=0, categories=["marketing"])  # no Google Ads conversion, not even gtag.js?id=AW-
    assert all(r.host.endswith(("google-analytics.com", "googletagmanager.com")) for r in recorder.requests), recorder.report()


def test_a_withdrawal_is_sent_as_a_consent_update(shop: Shop, recorder):
    shop.open("/")
    accept_all(shop.page)
    recorder.assert_fired("ga4")
    withdraw(shop.page)
    last = consent_commands(shop.page)[-1]
    assert last == ["consent", "update", DENIED_DEFAULT]
    # The stored choice on the next page: the default is still "denied", the update grants nothing.
    shop.open("/")
    assert [c[1] for c in consent_commands(shop.page)] == ["default", "update"]
    assert consent_commands(shop.page)[-1][2]["analytics_storage"] == "denied"


def test_meta_sends_no_page_view_of_its_own_on_push_state(shop: Shop, recorder):
    shop.open("/product.html")
    accept_all(shop.page)
    recorder.assert_fired("meta-pageview", once=True)
    assert shop.page.evaluate("() => window.fbq.disablePushState") is True
    shop.page.evaluate("() => history.pushState({}, '', '/product.html?colour=red')")
    # A PageView the library sent by itself would have the same pixel and name: it would count here.
    recorder.assert_fired("meta-pageview", once=True)


def _without_firewall(gateway_factory, tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    site = (configs / "site.yaml").read_text()
    (configs / "site.yaml").write_text(site.replace("  consent_max_age_days: 180", "  consent_max_age_days: 180\n  consent_firewall: false"))
    return gateway_factory(configs)


def _tiktok_automatic(recorder) -> list:
    """What TikTok's SDK sent by itself (Metadata, Click): decoded, but no tag's event."""
    return [e for e in recorder.events() if e.vendor == "tiktok_pixel" and e.automatic]


def _withdraw_marketing_then_click(shop: Shop, recorder) -> list:
    shop.open("/product.html")
    accept_all(shop.page)
    recorder.wait_for(shop.page, lambda: [e for e in _tiktok_automatic(recorder) if e.event == "Metadata"])
    withdraw(shop.page, keep=["analytics"])
    before = len(_tiktok_automatic(recorder))
    shop.page.locator(".add-to-cart").click()
    recorder.wait_past_automatic_hits(shop.page)
    return _tiktok_automatic(recorder)[before:]


def test_a_tiktok_sdk_with_revoke_consent_is_told_to_stop(gateway_factory, tmp_path, page, recorder):
    """Without the firewall, the vendor's own switch is all there is: a newer SDK honours it..."""
    recorder.tiktok_sdk = "consent"
    shop = Shop(page, _without_firewall(gateway_factory, tmp_path).url, recorder)
    assert _withdraw_marketing_then_click(shop, recorder) == []


def test_the_legacy_tiktok_sdk_ignores_revoke_consent(gateway_factory, tmp_path, page, recorder):
    """...and SDK 2.1.33 does not: its automatic Click leaves the page. This is what the firewall is for
    (e2e/test_firewall.py proves the same click stopped with the firewall on)."""
    shop = Shop(page, _without_firewall(gateway_factory, tmp_path).url, recorder)
    leaked = _withdraw_marketing_then_click(shop, recorder)
    assert [event.event for event in leaked] == ["Click"], leaked

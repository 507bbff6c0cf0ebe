"""The consent firewall: no request reaches a vendor host of a category the visitor has not allowed,
whichever script makes it, while the vendor stand-ins keep trying on their own (GA4's automatic
scroll, TikTok's automatic Click and Metadata, Meta's PageView on pushState).

Each test that asserts silence also shows that something tried: with ?tg_debug=1 the container
logs every request it stops, so an empty recorder cannot come from a script that never ran.
"""

from __future__ import annotations

import shutil

from playwright.sync_api import expect

from gateway.testing import accept_all, choose, reject_all, withdraw

from .support import DEFAULT_CONFIG_DIR, Shop

# What a store's own script might do: a hard-coded pixel in every way a browser can send one.
STORE_SCRIPT_TRIES_EVERYTHING = """() => {
  const meta = 'https://www.facebook.com/tr/?id=1234567890&ev=';
  new Image().src = meta + 'ImageProperty';
  const img = document.createElement('img');
  img.setAttribute('src', meta + 'ImageAttribute');
  document.body.appendChild(img);
  fetch('https://region1.google-analytics.com/g/collect?v=2&tid=G-EXAMPLE123&en=store_fetch', {method: 'POST', mode: 'no-cors'})
    .catch(() => {});
  navigator.sendBeacon('https://analytics.tiktok.com/api/v2/pixel', JSON.stringify({event: 'StoreBeacon'}));
  const xhr = new XMLHttpRequest();
  xhr.open('GET', 'https://googleads.g.doubleclick.net/pagead/viewthroughconversion/987654321/?store=xhr');
  xhr.send();
  const script = document.createElement('script');
  script.src = 'https://connect.facebook.net/en_US/fbevents.js?store=1';
  document.head.appendChild(script);
  const frame = document.createElement('iframe');
  frame.src = 'https://td.doubleclick.net/td/rul/987654321?store=iframe';
  document.body.appendChild(frame);
}"""
TRIES = 7  # requests STORE_SCRIPT_TRIES_EVERYTHING attempts


def store_events(recorder, name: str) -> list:
    """The decoded events the store's own hard-coded pixels sent (no tag sends these names)."""
    return [e for e in recorder.events() if e.event == name]


def stopped_lines(console: list[str]) -> list[str]:
    return [line for line in console if line.startswith("[tag-gateway] stopped")]


def debug_console(page) -> list[str]:
    lines: list[str] = []
    page.on("console", lambda message: lines.append(message.text))
    return lines


def test_nothing_leaves_before_a_choice_whatever_the_page_tries(shop: Shop, recorder):
    console = debug_console(shop.page)
    shop.open("/product.html?tg_debug=1")
    shop.page.evaluate(STORE_SCRIPT_TRIES_EVERYTHING)
    shop.page.wait_for_timeout(500)
    recorder.assert_silent(wait_ms=0)
    stopped = stopped_lines(console)
    assert len(stopped) == TRIES, "\n".join(console)
    for how in ("img", "fetch", "sendBeacon", "XMLHttpRequest", "script", "iframe"):
        assert any(f" {how} " in line for line in stopped), (how, stopped)
    # Each stop names the tags and the category the request belongs to.
    assert any("meta-pageview (marketing)" in line and "ImageProperty" in line for line in stopped), stopped
    assert any("ga4 (analytics)" in line and "store_fetch" in line for line in stopped), stopped


def test_nothing_leaves_after_reject_all(shop: Shop, recorder):
    console = debug_console(shop.page)
    shop.open("/product.html?tg_debug=1")
    reject_all(shop.page)
    shop.page.evaluate(STORE_SCRIPT_TRIES_EVERYTHING)
    shop.page.locator(".add-to-cart").click()
    recorder.assert_silent(wait_ms=0)
    assert len(stopped_lines(console)) == TRIES


def test_a_store_pixel_waits_for_marketing_and_then_goes_once(shop: Shop, recorder):
    shop.open("/product.html")
    shop.page.evaluate("""() => {
      const img = document.createElement('img');
      img.src = 'https://www.facebook.com/tr/?id=1234567890&ev=StorePixel';
      document.body.appendChild(img);
    }""")
    choose(shop.page, ["analytics"])
    recorder.assert_fired("ga4")
    recorder.assert_silent(wait_ms=0, categories=["marketing"])  # neither the store's pixel nor Meta's library
    assert store_events(recorder, "StorePixel") == []

    choose(shop.page, ["analytics", "marketing"])
    recorder.wait_for(shop.page, lambda: store_events(recorder, "StorePixel"))
    shop.settle()
    [store_pixel] = store_events(recorder, "StorePixel")
    assert store_pixel.vendor == "meta_pixel" and store_pixel.tag_id is None  # the store's, not a tag's
    assert store_pixel.hit.resource_type == "image"


def test_withdrawal_stops_what_the_vendor_libraries_do_on_their_own(shop: Shop, recorder):
    console = debug_console(shop.page)
    shop.open("/product.html?tg_debug=1")
    accept_all(shop.page)
    # Every vendor is on the page and has sent its page view.
    recorder.assert_fired("ga4")
    recorder.assert_fired("meta-pageview")
    recorder.assert_fired("tiktok-pageview")

    # Withdraw everything before GA4's automatic scroll event goes out (it is queued at load).
    withdraw(shop.page)
    recorder.clear()
    shop.page.evaluate("() => { if (window.fbq) window.fbq.disablePushState = false; }")  # the worst case
    shop.page.locator(".add-to-cart").click()                      # TikTok's automatic Click
    shop.page.evaluate("() => history.pushState({}, '', '/product.html?variant=red&tg_debug=1')")  # Meta's PageView
    shop.page.evaluate(STORE_SCRIPT_TRIES_EVERYTHING)
    recorder.assert_silent(wait_ms=3500)                           # past GA4's automatic scroll
    stopped = stopped_lines(console)
    assert any("google-analytics.com" in line for line in stopped if "store_fetch" not in line), stopped
    assert any("analytics.tiktok.com" in line for line in stopped if "StoreBeacon" not in line), stopped


def test_analytics_only_never_reaches_a_marketing_host(shop: Shop, recorder):
    shop.open("/product.html")
    choose(shop.page, ["analytics"])
    shop.page.evaluate(STORE_SCRIPT_TRIES_EVERYTHING)
    shop.page.locator(".add-to-cart").click()
    shop.page.evaluate("() => dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-1', value: 1, currency: 'EUR'}})")
    recorder.assert_fired("ga4-purchase", transaction_id="T-1")
    # Nothing of marketing: gtag.js was loaded for GA4 only, never for the Google Ads id (its own rule).
    recorder.assert_silent(wait_ms=0, categories=["marketing"])
    # Which hosts were contacted is what the firewall decides: only GA4's two.
    hosts = {r.host for r in recorder.requests}
    assert hosts <= {"www.googletagmanager.com", "region1.google-analytics.com"}, recorder.report()
    assert all("AW-" not in r.url for r in recorder.requests), recorder.report()
    # The store's own fetch to GA4's host is analytics, so it went through too.
    assert store_events(recorder, "store_fetch"), recorder.report()


def test_the_firewall_can_be_switched_off_per_site(gateway_factory, tmp_path, page, recorder):
    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    site = (configs / "site.yaml").read_text()
    (configs / "site.yaml").write_text(site.replace("  consent_max_age_days: 180", "  consent_max_age_days: 180\n  consent_firewall: false"))
    server = gateway_factory(configs)
    shop = Shop(page, server.url, recorder)
    shop.open("/product.html")
    expect(shop.banner).to_be_visible()
    shop.page.evaluate(STORE_SCRIPT_TRIES_EVERYTHING)
    recorder.wait_for(shop.page, lambda: store_events(recorder, "ImageProperty"))
    # Only the firewall was off: the container itself still fired nothing before the choice.
    shop.settle()
    assert recorder.events("ga4") == [] and recorder.events("meta-pageview") == [], recorder.report()
    assert recorder.library("www.googletagmanager.com") == [] and recorder.library("analytics.tiktok.com") == []


def test_a_vendor_cookie_written_again_after_a_withdrawal_is_gone_on_the_next_page(shop: Shop, recorder, context):
    shop.open("/product.html")
    accept_all(shop.page)
    recorder.assert_fired("tiktok-pageview")
    recorder.assert_fired("ga4")
    withdraw(shop.page, keep=["analytics"])
    assert "_ttp=" not in shop.page.evaluate("() => document.cookie")
    # TikTok's SDK (2.1.33, no revokeConsent) is still on the page: building its automatic Click event
    # it writes _ttp again. The firewall stops the request, but cannot stop that cookie write.
    shop.page.locator(".add-to-cart").click()
    shop.page.wait_for_function("() => document.cookie.includes('_ttp=')")

    shop.open("/")
    names = {c["name"] for c in context.cookies()}
    assert "_ttp" not in names and "_fbp" not in names, names
    assert "_ga" in names, names  # analytics is still allowed: its cookies stay

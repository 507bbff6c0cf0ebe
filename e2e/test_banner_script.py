"""The banner's code comes from the gateway's /ui.js, not the container (issue 9: room in the budget).

What must hold: the script is fetched once per page at the version the container names; and if it
cannot load (blocked by an extension, a proxy, a failed request), the visitor sees no banner and no
optional tag fires, while the store's own calls to tagGateway keep working.
"""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_banner_code_is_fetched_once_per_page_at_the_named_version(shop, recorder):
    fetched: list[str] = []
    shop.page.on("request", lambda r: fetched.append(r.url) if "/ui.js" in r.url else None)
    shop.open("/")
    expect(shop.banner).to_be_visible()
    version = shop.page.evaluate("() => document.querySelector('script[src*=\"/ui.js\"]').src.split('v=')[1]")
    assert len(version) == 12 and fetched == [shop.base_url + "/ui.js?v=" + version]
    before = shop.consent_events()
    shop.button(shop.banner, "Accept all").click()
    shop.wait_for_new_choice(before)
    shop.open("/product.html")  # a stored choice: the floating button needs the code too
    expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_visible()
    assert len(fetched) == 2  # once per page (this test's routing turns the HTTP cache off)


def test_without_the_banner_code_nothing_optional_fires_and_the_page_api_still_works(shop, recorder):
    shop.page.route("**/ui.js*", lambda route: route.abort())
    shop.open("/")
    shop.page.wait_for_timeout(300)
    expect(shop.page.locator("[data-tag-gateway]")).to_have_count(0)  # nothing drawn
    assert shop.state() == "undecided"
    recorder.assert_silent(wait_ms=300)

    before = shop.consent_events()
    shop.page.evaluate("() => window.tagGateway.acceptAll()")  # e.g. the store's own banner button
    shop.wait_for_new_choice(before)
    assert shop.consent()["categories"] == ["necessary", "analytics", "marketing"]
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    recorder.wait_for(shop.page, lambda: recorder.meta("PageView"))

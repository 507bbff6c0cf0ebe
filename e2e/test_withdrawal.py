"""Changing one's mind: withdrawing a category, and a stored choice that was tampered with."""

from playwright.sync_api import expect

from gateway.testing import accept_all, reject_all, withdraw


def test_withdrawing_marketing_stops_meta_but_keeps_analytics(shop, recorder):
    shop.open("/product.html")
    accept_all(shop.page)
    recorder.assert_fired("meta-pageview")

    shop.page.evaluate("() => tagGateway.showPreferences()")
    preferences = shop.preferences
    expect(preferences).to_be_visible()
    expect(preferences.get_by_role("checkbox", name="Analytics", exact=True)).to_be_checked()
    expect(preferences.get_by_role("checkbox", name="Marketing", exact=True)).to_be_checked()
    consent = withdraw(shop.page, keep=["analytics"])
    assert sorted(consent["categories"]) == ["analytics", "necessary"]
    shop.settle()

    recorder.clear()
    shop.page.locator(".add-to-cart").click()
    expect(shop.page.locator(".added-message")).to_have_text("Added")
    # Neither the tags nor the libraries' own automatic events (Meta's button clicks, TikTok's
    # Click act events) reach a withdrawn vendor: no request to a marketing tag's host at all.
    recorder.assert_silent(categories=["marketing"])

    shop.open("/")
    recorder.assert_fired("ga4", once=True)
    assert {e.vendor for e in recorder.events()} == {"ga4"}, recorder.report()
    recorder.assert_silent(wait_ms=0, categories=["marketing"])


def test_footer_link_reopens_preferences(shop):
    shop.open("/")
    reject_all(shop.page)

    shop.page.get_by_role("link", name="Privacy settings").click()

    expect(shop.preferences).to_be_visible()
    shop.save_preferences(analytics=True)
    assert sorted(shop.consent()["categories"]) == ["analytics", "necessary"]


def _tamper_signature(token: str) -> str:
    """Change one character in the signature part of an itsdangerous token."""
    payload, signature = token.rsplit(".", 1)
    # Change the FIRST character: it carries 6 full bits of the signature, while the last
    # character of unpadded base64 may differ only in ignored padding bits.
    first = "B" if signature[0] != "B" else "C"
    return f"{payload}.{first}{signature[1:]}"


def test_tampered_consent_cookie_is_ignored(shop, recorder, context):
    shop.open("/")
    accept_all(shop.page)
    recorder.assert_fired("ga4", once=True)

    stored = [c for c in context.cookies() if c["name"] == "tg_consent"]
    assert stored, f"no tg_consent cookie; cookies: {context.cookies()}"
    tampered = [{**cookie, "value": _tamper_signature(cookie["value"])} for cookie in stored]
    context.clear_cookies(name="tg_consent")
    context.add_cookies(tampered)

    recorder.clear()
    shop.reload()

    expect(shop.banner).to_be_visible()
    assert shop.state() == "undecided"
    recorder.assert_silent(wait_ms=0)


def test_withdrawing_marketing_removes_marketing_vendor_cookies(shop, context):
    shop.open("/product.html")
    accept_all(shop.page)
    # What the vendors' libraries would have written as first-party cookies once allowed.
    shop.page.evaluate("""() => {
        for (const c of ['_fbp=fb.1.1700000000.42', '_ttp=abc', '_ga=GA1.1.42.1700000000', 'cart=3'])
            document.cookie = c + '; path=/';
    }""")

    withdraw(shop.page, keep=["analytics"])  # opens the preferences as "Privacy settings" does

    names = {c["name"] for c in context.cookies()}
    assert "_fbp" not in names and "_ttp" not in names  # marketing vendors' cookies are gone
    assert {"_ga", "cart", "tg_consent"} <= names  # analytics and the store's own cookies stay

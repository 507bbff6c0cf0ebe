"""Changing one's mind: withdrawing a category, and a stored choice that was tampered with."""

from playwright.sync_api import expect


def test_withdrawing_marketing_stops_meta_but_keeps_analytics(shop, recorder):
    shop.open("/product.html")
    shop.accept_all()
    recorder.wait_for(shop.page, lambda: recorder.meta("PageView"))

    shop.page.evaluate("() => tagGateway.showPreferences()")
    preferences = shop.preferences
    expect(preferences).to_be_visible()
    expect(preferences.get_by_role("checkbox", name="Analytics", exact=True)).to_be_checked()
    expect(preferences.get_by_role("checkbox", name="Marketing", exact=True)).to_be_checked()
    shop.save_preferences(marketing=False)
    assert sorted(shop.consent()["categories"]) == ["analytics", "necessary"]
    shop.settle()

    recorder.clear()
    shop.page.locator(".add-to-cart").click()
    expect(shop.page.locator(".added-message")).to_have_text("Added")
    recorder.wait_past_automatic_hits(shop.page)
    # Neither the tags nor the libraries' own automatic events (Meta's button clicks, TikTok's
    # Click act events) reach a withdrawn vendor.
    assert recorder.pixels("facebook") == [] and recorder.pixels("tiktok") == [], recorder.describe()

    shop.open("/")
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    shop.settle()
    assert len(recorder.ga4("page_view")) == 1, recorder.describe()
    assert recorder.meta() == [] and recorder.tiktok() == [], recorder.describe()
    assert recorder.pixels("facebook") == [] and recorder.pixels("tiktok") == [], recorder.describe()


def test_footer_link_reopens_preferences(shop):
    shop.open("/")
    shop.reject_all()

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
    shop.accept_all()
    recorder.wait_for(shop.page, lambda: recorder.ga4("page_view"))
    shop.settle()

    stored = [c for c in context.cookies() if c["name"] == "tg_consent"]
    assert stored, f"no tg_consent cookie; cookies: {context.cookies()}"
    tampered = [{**cookie, "value": _tamper_signature(cookie["value"])} for cookie in stored]
    context.clear_cookies(name="tg_consent")
    context.add_cookies(tampered)

    recorder.clear()
    shop.reload()

    expect(shop.banner).to_be_visible()
    assert shop.state() == "undecided"
    shop.settle()
    assert recorder.requests == [], recorder.describe()


def test_withdrawing_marketing_removes_marketing_vendor_cookies(shop, context):
    shop.open("/product.html")
    shop.accept_all()
    # What the vendors' libraries would have written as first-party cookies once allowed.
    shop.page.evaluate("""() => {
        for (const c of ['_fbp=fb.1.1700000000.42', '_ttp=abc', '_ga=GA1.1.42.1700000000', 'cart=3'])
            document.cookie = c + '; path=/';
    }""")

    shop.page.evaluate("() => tagGateway.showPreferences()")
    shop.save_preferences(marketing=False)

    names = {c["name"] for c in context.cookies()}
    assert "_fbp" not in names and "_ttp" not in names  # marketing vendors' cookies are gone
    assert {"_ga", "cart", "tg_consent"} <= names  # analytics and the store's own cookies stay

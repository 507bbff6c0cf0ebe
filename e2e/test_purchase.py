"""The store's `purchase` data-layer push reaches every vendor in its own format."""

from urllib.parse import quote, quote_plus

from playwright.sync_api import expect

from gateway.testing import accept_all

from .support import ADS_CONVERSION_LABEL, ADS_CONVERSION_PATH, GA4_ID, META_PIXEL_ID, TIKTOK_PIXEL_ID

# Needs encoding in a URL: a space, a slash, a non-ASCII letter and an ampersand.
AWKWARD_ORDER_ID = "ORD 7/ü&x"


def test_purchase_pixels_carry_the_order_exactly(shop, recorder):
    shop.open("/")
    accept_all(shop.page)
    shop.settle()
    recorder.clear()

    shop.open("/thank-you.html?order=" + quote(AWKWARD_ORDER_ID, safe=""))
    expect(shop.page.locator("#order-id")).to_have_text(AWKWARD_ORDER_ID)

    [ads] = recorder.assert_fired("google-ads-conversion", once=True, value=59.9, currency="EUR",
                                  transaction_id=AWKWARD_ORDER_ID)
    assert (ads.account, ads.label, ads.hit.path) == ("AW-987654321", ADS_CONVERSION_LABEL, ADS_CONVERSION_PATH)
    # The wire format itself: the value exactly as pushed, and the id percent-encoded as one value, not
    # pasted raw into the URL (a decoded event cannot show how its URL was built).
    assert ads.hit.params["value"] == "59.9"
    assert quote(AWKWARD_ORDER_ID, safe="") in ads.hit.url or quote_plus(AWKWARD_ORDER_ID) in ads.hit.url, ads.hit.url
    assert "x" not in ads.hit.query, "the '&' in the order id split the query string"

    [meta] = recorder.assert_fired("meta-purchase", once=True, value=59.9, currency="EUR")
    assert (meta.account, meta.event) == (META_PIXEL_ID, "Purchase")
    assert "SKU-42" in meta.params["content_ids"]
    assert meta.params.get("event_id"), "Purchase should carry an event id for deduplication"

    [ga4] = recorder.assert_fired("ga4-purchase", once=True, transaction_id=AWKWARD_ORDER_ID, value=59.9,
                                  currency="EUR")
    assert (ga4.account, ga4.event) == (GA4_ID, "purchase")
    assert ga4.params["items"][0].startswith("idSKU-42~nmCanvas Tote"), ga4.params

    [tiktok] = recorder.assert_fired("tiktok-purchase", once=True, value=59.9, currency="EUR")
    assert (tiktok.account, tiktok.event) == (TIKTOK_PIXEL_ID, "CompletePayment")


def test_purchase_pushed_before_consent_fires_once_after_accept(shop, recorder):
    shop.open("/thank-you.html")
    expect(shop.banner).to_be_visible()
    recorder.assert_silent(wait_ms=0)

    accept_all(shop.page)

    recorder.assert_fired("google-ads-conversion", once=True, transaction_id="ORD-1001")
    recorder.assert_fired("meta-purchase", once=True)
    recorder.assert_fired("ga4-purchase", once=True, transaction_id="ORD-1001")
    recorder.assert_fired("tiktok-purchase", once=True)
    # The page view of this page also fires once, after the choice.
    recorder.assert_fired("ga4", once=True)
    recorder.assert_fired("meta-pageview", once=True)

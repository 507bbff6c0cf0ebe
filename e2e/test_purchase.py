"""The store's `purchase` data-layer push reaches every vendor in its own format."""

import json
from urllib.parse import quote, quote_plus

from playwright.sync_api import expect

from .support import ADS_CONVERSION_LABEL, ADS_CONVERSION_PATH, GA4_ID, META_PIXEL_ID, TIKTOK_PIXEL_ID

# Needs encoding in a URL: a space, a slash, a non-ASCII letter and an ampersand.
AWKWARD_ORDER_ID = "ORD 7/ü&x"


def _wait_for_purchase_pixels(shop, recorder):
    page = shop.page
    recorder.wait_for(page, recorder.ads_conversions)
    recorder.wait_for(page, lambda: recorder.meta("Purchase"))
    recorder.wait_for(page, lambda: recorder.ga4("purchase"))
    recorder.wait_for(page, lambda: recorder.tiktok("CompletePayment"))
    shop.settle()


def test_purchase_pixels_carry_the_order_exactly(shop, recorder):
    shop.open("/")
    shop.accept_all()
    shop.settle()
    recorder.clear()

    shop.open("/thank-you.html?order=" + quote(AWKWARD_ORDER_ID, safe=""))
    expect(shop.page.locator("#order-id")).to_have_text(AWKWARD_ORDER_ID)
    _wait_for_purchase_pixels(shop, recorder)

    [ads] = recorder.ads_conversions()
    assert ads.path == ADS_CONVERSION_PATH
    assert ads.params["label"] == ADS_CONVERSION_LABEL
    assert ads.params["value"] == "59.9"
    assert ads.params["currency_code"] == "EUR"
    assert ads.params["oid"] == AWKWARD_ORDER_ID
    # The id was percent-encoded as one value, not pasted raw into the URL.
    assert quote(AWKWARD_ORDER_ID, safe="") in ads.url or quote_plus(AWKWARD_ORDER_ID) in ads.url, ads.url
    assert "x" not in ads.query, "the '&' in the order id split the query string"

    [meta] = recorder.meta("Purchase")
    assert meta.params["id"] == META_PIXEL_ID
    assert float(meta.params["cd[value]"]) == 59.9
    assert meta.params["cd[currency]"] == "EUR"
    assert "SKU-42" in json.loads(meta.params["cd[content_ids]"])
    assert meta.params.get("eid"), "Purchase should carry an event id for deduplication"

    [ga4] = recorder.ga4("purchase")
    assert ga4.params["tid"] == GA4_ID
    assert ga4.params["ep.transaction_id"] == AWKWARD_ORDER_ID
    assert float(ga4.params["epn.value"]) == 59.9
    assert ga4.params["cu"] == "EUR"
    assert ga4.params["pr1"].startswith("idSKU-42~nmCanvas Tote")

    [tiktok] = recorder.tiktok("CompletePayment")
    body = tiktok.json()
    assert body["context"]["pixel"]["code"] == TIKTOK_PIXEL_ID
    assert float(body["properties"]["value"]) == 59.9
    assert body["properties"]["currency"] == "EUR"


def test_purchase_pushed_before_consent_fires_once_after_accept(shop, recorder):
    shop.open("/thank-you.html")
    expect(shop.banner).to_be_visible()
    shop.settle()
    assert recorder.requests == [], recorder.describe()

    shop.accept_all()
    _wait_for_purchase_pixels(shop, recorder)

    assert len(recorder.ads_conversions()) == 1, recorder.describe()
    assert recorder.ads_conversions()[0].params["oid"] == "ORD-1001"
    assert len(recorder.meta("Purchase")) == 1, recorder.describe()
    assert len(recorder.ga4("purchase")) == 1, recorder.describe()
    assert recorder.ga4("purchase")[0].params["ep.transaction_id"] == "ORD-1001"
    assert len(recorder.tiktok("CompletePayment")) == 1, recorder.describe()
    # The page view of this page also fires once, after the choice.
    assert len(recorder.ga4("page_view")) == 1, recorder.describe()
    assert len(recorder.meta("PageView")) == 1, recorder.describe()

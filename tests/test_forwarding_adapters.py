"""The three vendor API adapters: the exact request each builds, and how each vendor's answer maps."""

import json
from email.utils import formatdate

import pytest

from gateway.forwarding import privacy
from gateway.forwarding.event import Delivered, Failed, Retry, ServerEvent
from gateway.forwarding.privacy import Transforms
from gateway.forwarding.sender import Answer
from gateway.forwarding.vendors import ADAPTERS, adapter_for, ga4_mp, meta_capi, redacted_url, tiktok_events

TOKEN = "EAAB-secret-token-123"
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.6367.91 Safari/537.36")
ITEMS = [{"item_id": "SKU-42", "item_name": "Red shoe", "price": 29.95, "quantity": 2},
         {"item_id": "SKU-7", "price": 0.0}]
PURCHASE_PARAMS = {"value": 59.9, "currency": "EUR", "transaction_id": "T-1001", "items": ITEMS}


def event(**overrides):
    base = dict(
        event_id="T-1001", site="shop", tag_id="ads", vendor="meta_pixel", account_id="123456789012",
        event_name="Purchase", event_time=1_765_000_000,
        page_url="https://shop.example/thanks?order=T-1001#receipt",
        referrer="https://shop.example/checkout?step=3",
        client_ip="203.0.113.57", user_agent=UA,
        cookies={"_fbp": "fb.1.1700000000000.1234567890", "_fbc": "fb.1.1700000000000.AbCdEf",
                 "_ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH", "ttclid": "E.C.P.abc", "_ga": "GA1.1.987654321.1700000000"},
        params=dict(PURCHASE_PARAMS), user={"email": " Jane.Doe@Example.COM ", "phone": "+1 (650) 555-1212"},
        consent_id="c-1",
    )
    base.update(overrides)
    return ServerEvent(**base)


def body_of(request):
    return json.loads(request.body)


def answer(status, body=b"", **headers):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return Answer(status, {k.lower().replace("_", "-"): v for k, v in headers.items()}, body)


# ---------------------------------------------------------------- registry

def test_registry_names_and_flags():
    assert set(ADAPTERS) == {"meta_pixel", "tiktok_pixel", "ga4"}
    assert adapter_for("meta_pixel") is meta_capi and adapter_for("ga4") is ga4_mp
    assert adapter_for("pinterest") is None
    assert (meta_capi.USER_AGENT_REQUIRED, tiktok_events.USER_AGENT_REQUIRED, ga4_mp.USER_AGENT_REQUIRED) == \
        (True, False, False)
    assert (meta_capi.DEDUPLICATES_BY_EVENT_ID, tiktok_events.DEDUPLICATES_BY_EVENT_ID,
            ga4_mp.DEDUPLICATES_BY_EVENT_ID) == (True, True, False)
    for module in ADAPTERS.values():
        assert module.CREDENTIAL and callable(module.build_request) and callable(module.read_answer)


@pytest.mark.parametrize("url, expected", [
    ("https://www.google-analytics.com/mp/collect?measurement_id=G-ABC&api_secret=s3cr3t",
     "https://www.google-analytics.com/mp/collect?measurement_id=G-ABC&api_secret=***"),
    ("https://graph.facebook.com/v24.0/1/events?access_token=EAAB&x=1",
     "https://graph.facebook.com/v24.0/1/events?access_token=***&x=1"),
    ("https://business-api.tiktok.com/open_api/v1.3/event/track/",
     "https://business-api.tiktok.com/open_api/v1.3/event/track/"),
])
def test_redacted_url(url, expected):
    assert redacted_url(url) == expected


# ---------------------------------------------------------------- Meta

def test_meta_purchase_request():
    request = meta_capi.build_request(event(), Transforms(), TOKEN)
    assert request.method == "POST"
    assert request.url == "https://graph.facebook.com/v24.0/123456789012/events"
    assert request.headers == {"Content-Type": "application/json"}
    assert TOKEN not in request.url
    assert body_of(request) == {
        "access_token": TOKEN,
        "data": [{
            "event_name": "Purchase", "event_time": 1_765_000_000, "event_id": "T-1001",
            "action_source": "website",
            "event_source_url": "https://shop.example/thanks?order=T-1001",
            "referrer_url": "https://shop.example/checkout?step=3",
            "user_data": {
                "client_ip_address": "203.0.113.57", "client_user_agent": UA,
                "fbp": "fb.1.1700000000000.1234567890", "fbc": "fb.1.1700000000000.AbCdEf",
                "em": [privacy.sha256_hex("jane.doe@example.com")],
                "ph": [privacy.sha256_hex("16505551212")],
            },
            "custom_data": {
                "value": 59.9, "currency": "EUR", "order_id": "T-1001",
                "content_ids": ["SKU-42", "SKU-7"],
                "contents": [{"id": "SKU-42", "quantity": 2, "item_price": 29.95},
                             {"id": "SKU-7", "quantity": 1, "item_price": 0.0}],
                "content_type": "product", "num_items": 3,
            },
            "data_processing_options": [],
        }],
    }


def test_meta_page_view_with_transforms():
    t = Transforms(ip="truncate", user_agent="reduce", strip_query=True, strip_referrer=True, user_data=False)
    request = meta_capi.build_request(event(event_name="PageView", event_id="pv-1", params={}, cookies={}),
                                      t, TOKEN, base_url="http://127.0.0.1:9/")
    assert request.url == "http://127.0.0.1:9/v24.0/123456789012/events"
    sent = body_of(request)["data"][0]
    assert sent["event_source_url"] == "https://shop.example/thanks"
    assert "referrer_url" not in sent and "custom_data" not in sent
    # Meta requires the real user agent for website events: `reduce` does not apply to it.
    assert sent["user_data"] == {"client_ip_address": "203.0.113.0", "client_user_agent": UA}


@pytest.mark.parametrize("region, country, state", [("US-CA", 1, 1000), ("US-CO", 0, 0), ("", 0, 0)])
def test_meta_limited_data_use_when_restricted(region, country, state):
    sent = body_of(meta_capi.build_request(event(restricted=True, region=region), Transforms(), TOKEN))["data"][0]
    assert sent["data_processing_options"] == ["LDU"]
    assert (sent["data_processing_options_country"], sent["data_processing_options_state"]) == (country, state)


def meta_error(code, message, subcode=None, **extra):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC123"}
    if subcode:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def test_meta_answers():
    ok = meta_capi.read_answer(answer(200, {"events_received": 1, "messages": [], "fbtrace_id": "X1"}))
    assert ok == Delivered("events_received=1 fbtrace_id=X1")

    refused = meta_capi.read_answer(answer(400, meta_error(100, "Invalid parameter", 2804050,
                                                           error_user_msg="The event_time is too old")))
    assert isinstance(refused, Failed)
    assert refused.error == ("Meta 400 code 100/2804050: Invalid parameter - The event_time is too old"
                             " - fbtrace_id AbC123")

    bad_token = meta_capi.read_answer(answer(400, meta_error(190, "Invalid OAuth access token.")))
    assert isinstance(bad_token, Failed) and "code 190" in bad_token.error

    assert meta_capi.read_answer(answer(429, b"", Retry_After="30")) == Retry("Meta answered 429: (empty body)", 30.0)
    assert meta_capi.read_answer(answer(503, b"<html>down</html>")) == Retry("Meta answered 503: <html>down</html>", None)
    transient = meta_capi.read_answer(answer(500, meta_error(2, "Service temporarily unavailable", is_transient=True)))
    assert isinstance(transient, Retry)
    assert meta_capi.read_answer(answer(200, b"{}")).__class__ is Retry  # 2xx without Meta's success shape


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80004])
def test_meta_throttling_codes_retry(code):
    usage = json.dumps({"1234": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 3}]})
    outcome = meta_capi.read_answer(answer(400, meta_error(code, "Application request limit reached"),
                                           X_Business_Use_Case_Usage=usage))
    assert isinstance(outcome, Retry) and outcome.after == 180.0 and f"code {code}" in outcome.error
    no_signal = meta_capi.read_answer(answer(400, meta_error(code, "User request limit reached")))
    assert isinstance(no_signal, Retry) and no_signal.after is None


def test_retry_after_as_http_date():
    in_a_minute = formatdate(timeval=__import__("time").time() + 60, usegmt=True)
    outcome = meta_capi.read_answer(answer(429, b"", Retry_After=in_a_minute))
    assert isinstance(outcome, Retry) and 55 <= outcome.after <= 61
    past = formatdate(timeval=1_000_000_000, usegmt=True)
    assert tiktok_events.read_answer(answer(429, b"", Retry_After=past)).after == 0.0


# ---------------------------------------------------------------- TikTok

def test_tiktok_purchase_request():
    request = tiktok_events.build_request(
        event(vendor="tiktok_pixel", account_id="C4ABCDEF1234567890", event_name="CompletePayment"),
        Transforms(), TOKEN)
    assert request.method == "POST"
    assert request.url == "https://business-api.tiktok.com/open_api/v1.3/event/track/"
    assert request.headers == {"Content-Type": "application/json", "Access-Token": TOKEN}
    assert body_of(request) == {
        "event_source": "web", "event_source_id": "C4ABCDEF1234567890",
        "data": [{
            "event": "CompletePayment", "event_time": 1_765_000_000, "event_id": "T-1001",
            "user": {"email": privacy.sha256_hex("jane.doe@example.com"),
                     "phone": privacy.sha256_hex("+16505551212"),
                     "ip": "203.0.113.57", "user_agent": UA,
                     "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH", "ttclid": "E.C.P.abc"},
            "page": {"url": "https://shop.example/thanks?order=T-1001",
                     "referrer": "https://shop.example/checkout?step=3"},
            "properties": {"value": 59.9, "currency": "EUR", "order_id": "T-1001", "content_type": "product",
                           "contents": [{"content_id": "SKU-42", "quantity": 2, "content_name": "Red shoe",
                                         "price": 29.95},
                                        {"content_id": "SKU-7", "quantity": 1, "price": 0.0}]},
        }],
    }


def test_tiktok_page_view_with_transforms():
    t = Transforms(ip="omit", user_agent="reduce", strip_query=True, strip_referrer=False, user_data=False)
    request = tiktok_events.build_request(
        event(account_id="C4ABCDEF1234567890", event_name="Pageview", event_id="pv-9", params={},
              client_ip="2001:db8:85a3::1", cookies={"_ttp": "ttp-1"}), t, TOKEN, base_url="http://127.0.0.1:9")
    assert request.url == "http://127.0.0.1:9/open_api/v1.3/event/track/"
    sent = body_of(request)["data"][0]
    assert sent["user"] == {"user_agent": "Mozilla/5.0 (Windows) Chrome/124", "ttp": "ttp-1"}
    assert sent["page"] == {"url": "https://shop.example/thanks", "referrer": "https://shop.example/checkout"}
    assert "properties" not in sent


def test_tiktok_answers():
    ok = {"code": 0, "message": "OK", "request_id": "2024abc", "data": {}}
    assert tiktok_events.read_answer(answer(200, ok)) == Delivered("request_id=2024abc")
    limited = tiktok_events.read_answer(answer(200, {"code": 40100, "message": "Too many requests", "request_id": "r"}))
    assert limited == Retry("TikTok code 40100: Too many requests (request_id r)", None)
    server = tiktok_events.read_answer(answer(200, {"code": 50000, "message": "System error"}))
    assert isinstance(server, Retry)
    param = tiktok_events.read_answer(answer(200, {"code": 40002, "message": "data.0.event_time: invalid"}))
    assert param == Failed("TikTok code 40002: data.0.event_time: invalid")
    token = tiktok_events.read_answer(answer(200, {"code": 40105, "message": "Access token is incorrect"}))
    assert isinstance(token, Failed)
    assert tiktok_events.read_answer(answer(429, b"", Retry_After="7")).after == 7.0
    assert isinstance(tiktok_events.read_answer(answer(502, b"bad gateway")), Retry)
    assert isinstance(tiktok_events.read_answer(answer(400, b"nope")), Failed)
    assert isinstance(tiktok_events.read_answer(answer(200, b"<html>")), Retry)


# ---------------------------------------------------------------- GA4

def test_ga4_client_id():
    assert ga4_mp.client_id("GA1.1.987654321.1700000000") == "987654321.1700000000"
    assert ga4_mp.client_id("GA1.2.5.6") == "5.6"
    assert ga4_mp.client_id("") == ga4_mp.client_id("fb.1.2.3") == ga4_mp.client_id("GA1.1.x.y") == ""


def test_ga4_purchase_request():
    request = ga4_mp.build_request(event(vendor="ga4", account_id="G-ABC123XYZ", event_name="purchase"),
                                   Transforms(ip="truncate"), "s3cr3t")
    assert request.method == "POST"
    assert request.url == "https://www.google-analytics.com/mp/collect?measurement_id=G-ABC123XYZ&api_secret=s3cr3t"
    assert request.headers == {"Content-Type": "application/json"}
    assert body_of(request) == {
        "client_id": "987654321.1700000000",
        "timestamp_micros": 1_765_000_000_000_000,
        "consent": {"ad_user_data": "DENIED", "ad_personalization": "DENIED"},
        "ip_override": "203.0.113.0",
        "events": [{"name": "purchase", "params": {
            "page_location": "https://shop.example/thanks?order=T-1001",
            "page_referrer": "https://shop.example/checkout?step=3",
            **PURCHASE_PARAMS}}],
    }
    assert "jane" not in request.body.decode().lower() and "5551212" not in request.body.decode()  # no PII


def test_ga4_page_view_strips_the_page_fields_the_tag_gave_too():
    e = event(vendor="ga4", account_id="G-ABC123XYZ", event_name="page_view",
              params={"page_location": "https://shop.example/p?utm_source=x#y", "send_to": "G-ABC123XYZ"})
    request = ga4_mp.build_request(e, Transforms(ip="omit", strip_query=True, strip_referrer=True), "s3cr3t",
                                   base_url="http://127.0.0.1:9")
    assert request.url.startswith("http://127.0.0.1:9/mp/collect?")
    sent = body_of(request)
    assert "ip_override" not in sent
    assert sent["events"] == [{"name": "page_view", "params": {"page_location": "https://shop.example/p"}}]


def test_ga4_without_client_id_is_refused():
    with pytest.raises(ValueError, match="_ga"):
        ga4_mp.build_request(event(cookies={}), Transforms(), "s3cr3t")


def test_ga4_answers():
    assert ga4_mp.read_answer(answer(204)) == Delivered("GA4 answered 204")
    assert ga4_mp.read_answer(answer(200, {"validationMessages": []})) == Delivered("GA4 answered 200")
    invalid = ga4_mp.read_answer(answer(200, {"validationMessages": [
        {"fieldPath": "events", "description": "Event at index: [0] has invalid name [_bad].",
         "validationCode": "NAME_INVALID"}]}))
    assert invalid == Failed("GA4 validation: NAME_INVALID events: Event at index: [0] has invalid name [_bad].")
    assert ga4_mp.read_answer(answer(429, b"", Retry_After="12")) == Retry("GA4 answered 429: (empty body)", 12.0)
    assert isinstance(ga4_mp.read_answer(answer(500)), Retry)
    assert isinstance(ga4_mp.read_answer(answer(403, b"forbidden")), Failed)


@pytest.mark.parametrize("module", [meta_capi, tiktok_events, ga4_mp])
def test_no_outcome_carries_the_credential(module):
    # Whatever the vendor echoes back is cut and never includes what we sent, and errors carry no URL.
    for status in (400, 429, 500):
        outcome = module.read_answer(answer(status, b"error"))
        assert TOKEN not in getattr(outcome, "error", "") and "s3cr3t" not in getattr(outcome, "error", "")

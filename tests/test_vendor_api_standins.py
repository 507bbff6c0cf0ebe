"""tests/vendor_api_standins.py: each stand-in refuses what its vendor refuses, in the vendor's shape, and
the adapters work end to end against them through gateway.forwarding.sender."""

import json
import time

import pytest

from gateway.forwarding import privacy
from gateway.forwarding.event import Delivered, Failed, OutgoingRequest, Retry, ServerEvent
from gateway.forwarding.privacy import Transforms
from gateway.forwarding.sender import Answer, Unreachable, send
from gateway.forwarding.vendors import ga4_mp, meta_capi, tiktok_events
from tests.vendor_api_standins import VendorAPIStandIns

META_TOKEN, TIKTOK_TOKEN, GA4_SECRET = "meta-token", "tiktok-token", "ga4-secret"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


@pytest.fixture
def apis():
    with VendorAPIStandIns(tokens={"meta_pixel": META_TOKEN, "tiktok_pixel": TIKTOK_TOKEN}) as standins:
        yield standins


def post(apis, path, body, headers=None, timeout=5.0):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = send(OutgoingRequest("POST", apis.base_url + path, {"Content-Type": "application/json", **(headers or {})},
                                  raw), timeout)
    assert isinstance(answer, Answer), answer
    return answer.status, (json.loads(answer.body) if answer.body else None), answer.headers


# ----------------------------------------------------------------------------------------- Meta

META_PATH = "/v24.0/123456789012/events"


def meta_event(**overrides):
    event = {"event_name": "Purchase", "event_time": int(time.time()) - 5, "event_id": "e-1",
             "action_source": "website", "event_source_url": "https://shop.example/thanks",
             "user_data": {"client_ip_address": "203.0.113.5", "client_user_agent": UA}}
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def test_meta_accepts_a_valid_event(apis):
    status, body, _ = post(apis, META_PATH, {"data": [meta_event()], "access_token": META_TOKEN})
    assert status == 200 and body["events_received"] == 1 and body["messages"] == [] and body["fbtrace_id"]
    (received,) = apis.requests("meta_pixel")
    assert (received.method, received.path, received.status) == ("POST", META_PATH, 200)
    assert received.body["data"][0]["event_id"] == "e-1"


def test_meta_takes_the_token_from_the_query_too(apis):
    status, _, _ = post(apis, META_PATH + "?access_token=" + META_TOKEN, {"data": [meta_event()]})
    assert status == 200


@pytest.mark.parametrize("body, code, says", [
    ({"data": [meta_event()]}, 104, "access token is required"),
    ({"data": [meta_event()], "access_token": "other"}, 190, "Invalid OAuth access token"),
    ({"access_token": META_TOKEN}, 100, "data is required"),
    ({"data": [], "access_token": META_TOKEN}, 100, "data is required"),
])
def test_meta_refuses_the_request(apis, body, code, says):
    status, answer, _ = post(apis, META_PATH, body)
    assert status == 400
    assert answer["error"]["code"] == code and says in answer["error"]["message"]
    assert answer["error"]["type"] == "OAuthException" and answer["error"]["fbtrace_id"]
    assert apis.distinct_events("meta_pixel") == 0


@pytest.mark.parametrize("overrides, says", [
    ({"event_name": None}, "event_name is required"),
    ({"action_source": None}, "action_source is required"),
    ({"event_time": int(time.time()) - 8 * 86400}, "more than 7 days"),
    ({"event_time": int(time.time()) + 3600}, "in the future"),
    ({"event_time": int(time.time() * 1000)}, "in the future"),
    ({"event_source_url": None}, "require event_source_url"),
    ({"user_data": {"client_ip_address": "203.0.113.5"}}, "require user_data.client_user_agent"),
    ({"user_data": {}}, "at least one customer information parameter"),
    ({"user_data": {"client_user_agent": UA, "em": ["jane@example.com"]}}, "user_data.em must be a SHA-256"),
    ({"user_data": {"client_user_agent": UA, "ph": "16505551212"}}, "user_data.ph must be a SHA-256"),
    ({"action_source": "websites"}, "action_source 'websites' is not valid"),
    ({"data_processing_options": ["CCPA"]}, "data_processing_options"),
])
def test_meta_refuses_the_event(apis, overrides, says):
    status, answer, _ = post(apis, META_PATH, {"data": [meta_event(**overrides)], "access_token": META_TOKEN})
    assert status == 400
    assert answer["error"]["code"] == 100 and says in answer["error"]["error_user_msg"]


def test_meta_app_events_need_no_url_or_user_agent(apis):
    event = meta_event(action_source="system_generated", event_source_url=None,
                       user_data={"em": [privacy.sha256_hex("a@b.example")]})
    assert post(apis, META_PATH, {"data": [event], "access_token": META_TOKEN})[0] == 200


# --------------------------------------------------------------------------------------- TikTok

TIKTOK_PATH = "/open_api/v1.3/event/track/"


def tiktok_body(**overrides):
    event = {"event": "CompletePayment", "event_time": int(time.time()), "event_id": "t-1",
             "user": {"ip": "203.0.113.5", "user_agent": UA}, "page": {"url": "https://shop.example/thanks"}}
    event.update(overrides)
    return {"event_source": "web", "event_source_id": "C4ABCDEF1234567890",
            "data": [{k: v for k, v in event.items() if v is not None}]}


def test_tiktok_accepts_a_valid_event(apis):
    status, body, _ = post(apis, TIKTOK_PATH, tiktok_body(), {"Access-Token": TIKTOK_TOKEN})
    assert status == 200 and body["code"] == 0 and body["message"] == "OK" and body["request_id"]
    assert apis.distinct_events("tiktok_pixel") == 1


@pytest.mark.parametrize("body, headers, code, says", [
    (tiktok_body(), {}, 40104, "Access token is null"),
    (tiktok_body(), {"Access-Token": "other"}, 40105, "incorrect"),
    ({**tiktok_body(), "event_source": "website"}, None, 40002, "event_source"),
    ({**tiktok_body(), "event_source_id": ""}, None, 40002, "event_source_id: required"),
    ({**tiktok_body(), "data": []}, None, 40002, "data: required"),
    (tiktok_body(event=None), None, 40002, "data[0].event: required"),
    (tiktok_body(event_id=None), None, 40002, "data[0].event_id: required"),
    (tiktok_body(event_time=int(time.time() * 1000)), None, 40002, "milliseconds"),
    (tiktok_body(user={"email": "jane@example.com"}), None, 40002, "user.email: must be SHA-256"),
])
def test_tiktok_refuses_with_http_200_and_a_code(apis, body, headers, code, says):
    status, answer, _ = post(apis, TIKTOK_PATH, body, {"Access-Token": TIKTOK_TOKEN} if headers is None else headers)
    assert status == 200
    assert answer["code"] == code and says in answer["message"]
    assert apis.distinct_events("tiktok_pixel") == 0


# ------------------------------------------------------------------------------------------ GA4

def ga4_body(**overrides):
    body = {"client_id": "123.456", "events": [{"name": "purchase", "params": {"value": 1, "currency": "EUR"}}]}
    body.update(overrides)
    return body


def test_ga4_collect_answers_204_to_anything(apis):
    assert post(apis, "/mp/collect?measurement_id=G-1&api_secret=x", b"not json")[0] == 204
    assert post(apis, "/mp/collect?measurement_id=G-1&api_secret=x", {"events": []})[0] == 204
    assert [r.status for r in apis.requests("ga4")] == [204, 204]
    assert [m["validationCode"] for m in apis.requests("ga4")[1].validation] == ["VALUE_REQUIRED", "VALUE_REQUIRED"]
    assert apis.distinct_events("ga4") == 0


@pytest.mark.parametrize("body, path, code", [
    (ga4_body(client_id=None), "client_id", "VALUE_REQUIRED"),
    (ga4_body(events=[{"name": "_bad"}]), "events[0].name", "NAME_RESERVED"),
    (ga4_body(events=[{"name": "9lives"}]), "events[0].name", "NAME_INVALID"),
    (ga4_body(events=[{"name": "add-to-cart"}]), "events[0].name", "NAME_INVALID"),
    (ga4_body(events=[{"name": "session_start"}]), "events[0].name", "NAME_RESERVED"),
    (ga4_body(events=[{"name": "google_thing"}]), "events[0].name", "NAME_RESERVED"),
    (ga4_body(events=[{"name": "x" * 41}]), "events[0].name", "VALUE_OUT_OF_BOUNDS"),
    (ga4_body(events=[{"name": "e"}] * 26), "events", "EXCEEDED_MAX_ENTITIES"),
    (ga4_body(events=[{"name": "e", "params": {f"p{i}": i for i in range(26)}}]), "events[0].params",
     "EXCEEDED_MAX_ENTITIES"),
    (ga4_body(events=[{"name": "e", "params": {"ga_session": 1}}]), "events[0].params", "NAME_RESERVED"),
    (ga4_body(events=[{"name": "e", "params": {"bad name": 1}}]), "events[0].params", "NAME_INVALID"),
    (ga4_body(events=[{"name": "e", "params": {"note": "x" * 101}}]), "events[0].params.note", "VALUE_OUT_OF_BOUNDS"),
    (ga4_body(consent={"ad_user_data": "YES"}), "consent.ad_user_data", "VALUE_INVALID"),
    (ga4_body(user_properties={"user_id": "1"}), "user_properties", "NAME_RESERVED"),
])
def test_ga4_debug_endpoint_validates(apis, body, path, code):
    status, answer, _ = post(apis, "/debug/mp/collect?measurement_id=G-1&api_secret=x",
                             {k: v for k, v in body.items() if v is not None})
    assert status == 200
    assert {(m["fieldPath"], m["validationCode"]) for m in answer["validationMessages"]} == {(path, code)}


def test_ga4_debug_endpoint_passes_a_valid_request(apis):
    long_page = "https://shop.example/" + "p" * 900  # page_location may be up to 1000 characters
    body = ga4_body(events=[{"name": "page_view", "params": {"page_location": long_page}}])
    assert post(apis, "/debug/mp/collect?measurement_id=G-1&api_secret=x", body)[1] == {"validationMessages": []}


# ------------------------------------------------------------------------------------- controls

def test_fail_next_answers_n_times_then_processes(apis):
    apis.fail_next("tiktok_pixel", 2, 503, retry_after=9)
    answers = [post(apis, TIKTOK_PATH, tiktok_body(), {"Access-Token": TIKTOK_TOKEN}) for _ in range(3)]
    assert [a[0] for a in answers] == [503, 503, 200]
    assert answers[0][2]["retry-after"] == "9" and answers[0][1]["code"] == 50000
    assert answers[2][1]["code"] == 0
    assert len(apis.requests("tiktok_pixel")) == 3 and apis.distinct_events("tiktok_pixel") == 1


def test_distinct_events_deduplicate_like_the_vendor(apis):
    for event_id in ("e-1", "e-1", "e-2"):
        post(apis, META_PATH, {"data": [meta_event(event_id=event_id)], "access_token": META_TOKEN})
    post(apis, "/v24.0/999999/events", {"data": [meta_event(event_id="e-1")], "access_token": META_TOKEN})
    assert apis.distinct_events("meta_pixel") == 3  # e-1 and e-2 on one pixel, e-1 on another
    for _ in range(2):
        post(apis, "/mp/collect?measurement_id=G-1&api_secret=x", ga4_body())
    assert apis.distinct_events("ga4") == 2  # GA4 does not de-duplicate


def test_unknown_vendor_is_an_error(apis):
    with pytest.raises(ValueError, match="unknown vendor"):
        apis.fail_next("pinterest")


def test_down_refuses_connections_and_up_serves_again_on_the_same_port(apis):
    port = apis.port
    apis.down()
    refused = send(OutgoingRequest("POST", apis.base_url + TIKTOK_PATH, {}, b"{}"), 2.0)
    assert isinstance(refused, Unreachable) and "Refused" in refused.error
    apis.up()
    assert apis.port == port
    assert post(apis, TIKTOK_PATH, tiktok_body(), {"Access-Token": TIKTOK_TOKEN})[1]["code"] == 0


# ---------------------------------------------------------------------- adapters, end to end

def server_event(vendor, account, name, event_id="order-77"):
    return ServerEvent(
        event_id=event_id, site="shop", tag_id="t", vendor=vendor, account_id=account, event_name=name,
        event_time=int(time.time()) - 30, page_url="https://shop.example/thanks?o=77#x",
        referrer="https://shop.example/cart", client_ip="198.51.100.23", user_agent=UA,
        cookies={"_fbp": "fb.1.1.2", "_ttp": "ttp", "_ga": "GA1.1.111.222"},
        params={"value": 10.5, "currency": "EUR", "transaction_id": "77",
                "items": [{"item_id": "A", "item_name": "Apple", "price": 10.5, "quantity": 1}]},
        user={"email": "Jane@Example.com", "phone": "+44 20 7946 0958"})


CASES = {
    "meta_pixel": (meta_capi, "123456789012", "Purchase", META_TOKEN),
    "tiktok_pixel": (tiktok_events, "C4ABCDEF1234567890", "CompletePayment", TIKTOK_TOKEN),
    "ga4": (ga4_mp, "G-ABC123XYZ", "purchase", GA4_SECRET),
}


def deliver(apis, vendor, credential=None, timeout=5.0, transforms=Transforms()):
    module, account, name, token = CASES[vendor]
    request = module.build_request(server_event(vendor, account, name), transforms, credential or token,
                                   base_url=apis.base_url)
    answer = send(request, timeout)
    return answer if isinstance(answer, Unreachable) else module.read_answer(answer)


@pytest.mark.parametrize("vendor", list(CASES))
def test_delivered_end_to_end(apis, vendor):
    outcome = deliver(apis, vendor, transforms=Transforms(ip="truncate", strip_query=True))
    assert isinstance(outcome, Delivered), outcome
    assert apis.distinct_events(vendor) == 1
    (received,) = apis.requests(vendor)
    assert received.validation == []
    if vendor == "tiktok_pixel":
        assert received.headers["access-token"] == TIKTOK_TOKEN
        assert received.body["data"][0]["user"]["ip"] == "198.51.100.0"
    if vendor == "ga4":
        assert received.query == {"measurement_id": "G-ABC123XYZ", "api_secret": GA4_SECRET}
    if vendor == "meta_pixel":
        assert received.body["data"][0]["event_source_url"] == "https://shop.example/thanks"


def test_ga4_adapter_payload_passes_the_debug_endpoint(apis):
    module, account, name, token = CASES["ga4"]
    request = ga4_mp.build_request(server_event("ga4", account, name), Transforms(), token,
                                   base_url=apis.base_url, debug=True)
    answer = send(request, 5.0)
    assert answer.status == 200 and json.loads(answer.body) == {"validationMessages": []}
    assert ga4_mp.read_answer(answer) == Delivered("GA4 answered 200")


@pytest.mark.parametrize("vendor", ["meta_pixel", "tiktok_pixel"])
def test_a_resent_event_counts_once(apis, vendor):
    apis.fail_next(vendor, 1, 503)
    assert isinstance(deliver(apis, vendor), Retry)
    assert isinstance(deliver(apis, vendor), Delivered)
    assert isinstance(deliver(apis, vendor), Delivered)  # e.g. the answer was lost and the outbox re-sent
    assert len(apis.requests(vendor)) == 3 and apis.distinct_events(vendor) == 1


def test_refusals_map_to_failed_with_the_vendors_message(apis):
    meta = deliver(apis, "meta_pixel", credential="wrong")
    assert isinstance(meta, Failed) and "code 190" in meta.error and "Invalid OAuth access token" in meta.error
    tiktok = deliver(apis, "tiktok_pixel", credential="wrong")
    assert isinstance(tiktok, Failed) and tiktok.error.startswith("TikTok code 40105: Access token is incorrect")
    assert "wrong" not in meta.error + tiktok.error
    apis.fail_next("ga4", 1, 400)
    assert deliver(apis, "ga4") == Failed("GA4 answered 400: (empty body)")


@pytest.mark.parametrize("vendor", list(CASES))
def test_rate_limits_and_server_errors_retry(apis, vendor):
    apis.fail_next(vendor, 1, 429, retry_after=17)
    limited = deliver(apis, vendor)
    assert isinstance(limited, Retry) and limited.after == 17.0
    apis.fail_next(vendor, 1, 500)
    assert isinstance(deliver(apis, vendor), Retry)


def test_tiktok_rate_limit_code_and_meta_throttling_code_retry(apis):
    apis.fail_next("tiktok_pixel", 1, 200, body={"code": 40100, "message": "Too many requests", "request_id": "r"})
    assert deliver(apis, "tiktok_pixel") == Retry("TikTok code 40100: Too many requests (request_id r)", None)
    throttled = {"error": {"message": "(#17) User request limit reached", "type": "OAuthException", "code": 17,
                           "fbtrace_id": "F"}}
    apis.fail_next("meta_pixel", 1, 400, body=throttled)
    outcome = deliver(apis, "meta_pixel")
    assert isinstance(outcome, Retry) and "code 17" in outcome.error


def test_down_is_unreachable_and_a_slow_answer_times_out(apis):
    apis.down()
    assert isinstance(deliver(apis, "meta_pixel"), Unreachable)
    apis.up()
    apis.slow("tiktok_pixel", 1.5)
    started = time.monotonic()
    outcome = deliver(apis, "tiktok_pixel", timeout=0.3)
    assert isinstance(outcome, Unreachable) and "timed out" in outcome.error
    assert time.monotonic() - started < 1.4
    apis.slow("tiktok_pixel", 0)
    assert isinstance(deliver(apis, "tiktok_pixel"), Delivered)

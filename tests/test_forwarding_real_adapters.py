"""Server-side forwarding end to end with the real adapters: `gateway serve` (the production server) takes
POST /collect, decides consent itself, keeps the event in the outbox and delivers it to the local stand-ins of
Meta's Conversions API, TikTok's Events API and GA4's Measurement Protocol (tests/vendor_api_standins.py),
which validate each payload as the vendors document.

The other forwarding tests use a fake adapter (tests/forwarding_fakes.py) to test the outbox apart from any
vendor format; these prove the pieces fit: the event the gateway accepted is one the vendor accepts too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import STORE_ORIGIN
from forwarding_fakes import server_side_config
from served_gateway import REPO, ServedGateway
from tests.vendor_api_standins import GA4, META, TIKTOK, VendorAPIStandIns
from waiting import wait_for

TOKENS = {META: "meta-token", TIKTOK: "tt-token", GA4: "ga4-secret"}
GERMANY = {"CF-IPCountry": "DE"}
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


@pytest.fixture
def apis():
    with VendorAPIStandIns(tokens=TOKENS) as standins:
        yield standins


@pytest.fixture
def gateway(tmp_path, apis):
    config = server_side_config(tmp_path / "config")
    env = {"TAG_GATEWAY_FORWARD_TEST_ENDPOINTS": "1", "TAG_GATEWAY_FORWARD_TIMEOUT": "1",
           "TAG_GATEWAY_FORWARD_META_PIXEL": TOKENS[META], "TAG_GATEWAY_FORWARD_TIKTOK_PIXEL": TOKENS[TIKTOK],
           "TAG_GATEWAY_FORWARD_GA4": TOKENS[GA4]}
    for vendor in (META, TIKTOK, GA4):
        env[f"TAG_GATEWAY_FORWARD_BASE_URL_{vendor.upper()}"] = apis.base_url
    with ServedGateway("--workers", "1", "--no-access-log", config=config, env=env) as served:
        yield served


def choose(gateway, categories) -> str:
    answer = gateway.request("POST", "/consent", {"Content-Type": "application/json", "Origin": STORE_ORIGIN, **GERMANY},
                             json.dumps({"categories": categories}).encode())
    assert answer.status == 200, answer.body
    return json.loads(answer.body)["token"]


def collect(gateway, token, tag, event_id, **more):
    body = {"tag": tag, "event_id": event_id, "event_time": int(time.time()),
            "page": "https://shop.example/thank-you.html?order=ORD-1#top", "referrer": "https://shop.example/cart.html",
            "params": {"value": 59.9, "currency": "EUR", "transaction_id": event_id,
                       "items": [{"item_id": "SKU-1", "price": 29.95, "quantity": 2}]},
            "cookies": {"_fbp": "fb.1.1700000000000.123456789", "_ttp": "ttp-abc", "_ga": "GA1.1.987654321.1700000000"},
            **more}
    headers = {"Content-Type": "application/json", "Origin": STORE_ORIGIN, "User-Agent": CHROME, **GERMANY}
    if token:
        headers["X-Tag-Gateway-Consent"] = token
    answer = gateway.request("POST", "/collect", headers, json.dumps(body).encode())
    return answer.status, json.loads(answer.body)


def stats(gateway) -> dict:
    run = subprocess.run([sys.executable, "-m", "gateway", "events", "stats", "--json"], capture_output=True, text=True,
                         cwd=REPO, env={**gateway.env}, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_after_accept_all_each_vendor_api_accepts_the_purchase_once_with_the_browsers_event_id(gateway, apis) -> None:
    token = choose(gateway, ["analytics", "marketing"])
    for tag in ("meta-purchase", "tiktok-purchase", "ga4-purchase"):
        assert collect(gateway, token, tag, "ORD-1") == (202, {"accepted": True, "event_id": "ORD-1"})

    assert wait_for(lambda: all(apis.distinct_events(v) == 1 for v in (META, TIKTOK, GA4))), \
        ({v: [r.status for r in apis.requests(v)] for v in (META, TIKTOK, GA4)}, gateway.log()[-3000:])

    [meta] = apis.requests(META)
    assert meta.status == 200
    event = meta.body["data"][0]
    assert (event["event_name"], event["event_id"], event["action_source"]) == ("Purchase", "ORD-1", "website")
    assert event["event_source_url"] == "https://shop.example/thank-you.html?order=ORD-1"  # never the fragment
    assert event["user_data"]["client_user_agent"] == CHROME
    assert event["user_data"]["fbp"] == "fb.1.1700000000000.123456789"
    assert event["custom_data"]["value"] == 59.9 and event["custom_data"]["currency"] == "EUR"

    [tiktok] = apis.requests(TIKTOK)
    assert tiktok.headers["access-token"] == "tt-token"
    assert tiktok.body["event_source_id"] and tiktok.body["data"][0]["event_id"] == "ORD-1"

    [ga4] = apis.requests(GA4)
    assert ga4.path == "/mp/collect" and ga4.query["api_secret"] == "ga4-secret"
    assert ga4.validation == []  # what GA4's debug endpoint would say about it: nothing wrong
    assert ga4.body["client_id"] == "987654321.1700000000"
    assert ga4.body["events"][0]["name"] == "purchase"

    # The ledger agrees: three accepted, three delivered, none waiting or dead.
    rows = stats(gateway)["rows"]
    assert {row["vendor"]: (row["accepted"], row["delivered"], row["retrying"], row["dead"]) for row in rows} == {
        vendor: (1, 1, 0, 0) for vendor in (META, TIKTOK, GA4)}, rows


def test_after_reject_all_or_without_a_choice_nothing_reaches_any_vendor(gateway, apis) -> None:
    refused = choose(gateway, [])
    for token in (refused, None):
        for n, tag in enumerate(("meta-purchase", "tiktok-purchase", "ga4-purchase")):
            status, body = collect(gateway, token, tag, f"ORD-{n}-{bool(token)}")
            assert (status, body.get("accepted")) == (202, False), body
    time.sleep(1.5)  # more than the delivery worker's poll: anything queued would have gone by now
    assert [apis.requests(v) for v in (META, TIKTOK, GA4)] == [[], [], []]


def test_a_vendor_that_is_down_gets_every_accepted_event_once_when_it_is_back(gateway, apis) -> None:
    token = choose(gateway, ["analytics", "marketing"])
    apis.down()
    ids = [f"ORD-{n}" for n in range(5)]
    for event_id in ids:
        assert collect(gateway, token, "meta-purchase", event_id)[0] == 202
    time.sleep(1.5)  # the worker tries, finds the API unreachable and backs off
    apis.up()
    assert wait_for(lambda: apis.distinct_events(META) == 5, timeout=60), gateway.log()[-3000:]
    sent = [r.body["data"][0]["event_id"] for r in apis.requests(META)]
    assert sorted(sent) == ids  # each once: nothing was lost while the API was down, nothing sent twice

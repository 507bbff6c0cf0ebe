"""When the consent log cannot take a choice (POST /consent answers 503 with Retry-After), the container keeps
the visitor's choice and sends it again; nothing optional fires until the gateway has acknowledged the record."""

from __future__ import annotations

import json
import sqlite3
import time

from playwright.sync_api import expect

from gateway.store import database

from .support import GA4_ID, Shop


def test_a_choice_the_log_refused_is_sent_again_and_pixels_wait_for_the_record(gateway_factory, page, recorder):
    gateway = gateway_factory()
    shop = Shop(page, gateway.url, recorder).open("/")
    posts: list[tuple[int, float]] = []  # (status, when) of every POST /consent answer, in order
    page.on("response", lambda r: posts.append((r.status, time.monotonic()))
            if r.request.method == "POST" and r.url.endswith("/consent") else None)

    # Another writer holds the consent log's SQLite file: the gateway's write waits out its busy
    # timeout and POST /consent answers 503 log_unavailable, as with a database that is down.
    blocker = sqlite3.connect(database.sqlite_path(database.resolve_url(gateway.database_url)), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/consent"),
                                  timeout=20_000) as refused:
            shop.button(shop.banner, "Accept all").click()
        assert refused.value.status == 503
        assert refused.value.json()["error"]["code"] == "log_unavailable"
        assert refused.value.headers.get("retry-after") == "5"
        expect(shop.banner).to_be_hidden()  # the visitor's click is not asked for again
        assert shop.state() != "decided" and shop.consent() is None
        assert recorder.vendor_requests() == [], "a pixel fired for a choice that is not recorded"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    # The container sends the same choice again after Retry-After; this time it is stored.
    page.wait_for_function("() => tagGateway.state === 'decided'", timeout=20_000)
    assert [status for status, _ in posts] == [503, 200]
    acknowledged_at = posts[1][1]
    [ga4] = recorder.assert_fired("ga4")
    assert (ga4.account, ga4.event) == (GA4_ID, "page_view")
    first_pixel = min(request.time for request in recorder.vendor_requests())
    assert first_pixel >= acknowledged_at, "a pixel left before the gateway acknowledged the record"

    consent = shop.consent()
    assert consent["action"] == "accept_all" and "marketing" in consent["categories"]
    exported = gateway.consents("export", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(r["consent_id"], r["action"]) for r in records] == [(consent["id"], "accept_all")]

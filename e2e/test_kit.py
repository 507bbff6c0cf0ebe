"""The testing kit (gateway.testing) as a store's tests use it: the plugin's `tag_recorder`, tag ids from
tag_configs/, assert_fired / assert_silent with their failure tables, the consent helpers, region and GPC.
(The rest of e2e/ uses the same kit through support.py; this module uses only its public API.)"""

from __future__ import annotations

import pytest

from gateway.testing import (
    accept_all, attached_recorder, choose, reject_all, visit_as, wait_ready, withdraw,
)
from gateway.testing.decode import decode


def test_assert_fired_names_the_tag_and_checks_the_value(page, gateway, tag_recorder):
    page.goto(gateway.url + "/")
    accept_all(page)
    page.goto(gateway.url + "/thank-you.html?order=ORD-7")
    wait_ready(page)
    [meta] = tag_recorder.assert_fired("meta-purchase", once=True, value=59.9, currency="EUR", event_id="ORD-7")
    assert meta.vendor == "meta_pixel" and meta.event == "Purchase" and meta.params["value"] == 59.9
    tag_recorder.assert_fired("ga4-purchase", once=True, value=59.9, transaction_id="ORD-7")
    tag_recorder.assert_fired("google-ads-conversion", once=True, value="59.9", transaction_id="ORD-7")
    tag_recorder.assert_fired("tiktok-purchase", once=True, value=59.9)
    tag_recorder.assert_fired("tiktok-pageview")
    tag_recorder.assert_fired("ga4")
    assert tag_recorder.unknown_third_parties() == []

    with pytest.raises(AssertionError) as failed:
        tag_recorder.assert_fired("meta-purchase", value=60, timeout_ms=300)
    message = str(failed.value)
    assert "meta-purchase" in message and "Purchase" in message and "value=59.9" in message, message
    assert "vendor" in message and "tag" in message and "event" in message, message


def test_assert_silent_after_reject_and_its_table_when_something_fires(page, gateway, tag_recorder):
    page.goto(gateway.url + "/thank-you.html")
    reject_all(page)
    page.locator(".add-to-cart").count()  # the page is usable after the choice
    tag_recorder.assert_silent()

    # Deliberately: a tracking snippet pasted into the store's page, and a tag firing after a new choice.
    page.evaluate("() => { new Image().src = 'https://tracker.example/p.gif?uid=1'; }")
    page.evaluate("() => tagGateway.acceptAll()")
    page.reload()
    wait_ready(page)
    tag_recorder.assert_fired("meta-purchase", once=True)
    with pytest.raises(AssertionError) as failed:
        tag_recorder.assert_silent(wait_ms=0)
    message = str(failed.value)
    assert "meta_pixel" in message and "meta-purchase" in message and "Purchase" in message, message
    assert "Unknown third parties" in message and "tracker.example/p.gif" in message, message
    assert [r.host for r in tag_recorder.unknown_third_parties()] == ["tracker.example"]


def test_choose_analytics_only_then_withdraw(page, gateway, tag_recorder):
    page.goto(gateway.url + "/")
    consent = choose(page, ["analytics"])
    assert consent["categories"] == ["necessary", "analytics"], consent
    tag_recorder.assert_fired("ga4", once=True)
    assert tag_recorder.events("meta-pageview") == []
    consent = withdraw(page)
    assert consent["categories"] == ["necessary"], consent
    tag_recorder.clear()
    page.reload()
    wait_ready(page)
    tag_recorder.assert_silent()


def test_california_fires_marketing_without_a_click(context, page, gateway, tag_recorder):
    visit_as(context, region="US-CA")
    page.goto(gateway.url + "/product.html")
    wait_ready(page)
    tag_recorder.assert_fired("meta-pageview", once=True)
    tag_recorder.assert_fired("tiktok-pageview")
    assert page.evaluate("() => tagGateway.consent") is None


def test_california_with_gpc_never_sends_marketing(context, page, gateway, tag_recorder):
    visit_as(context, region="US-CA", gpc=True)
    page.goto(gateway.url + "/product.html")
    page.wait_for_function("() => window.tagGateway && tagGateway.state === 'decided'")
    tag_recorder.assert_fired("ga4")
    page.locator(".add-to-cart").click()
    tag_recorder.wait_past_automatic_hits(page)
    marketing = [e for e in tag_recorder.events() if e.vendor != "ga4"]
    assert marketing == [], tag_recorder.report()
    assert tag_recorder.requests_of(["marketing"]) == [], tag_recorder.report()  # not even a library


def test_the_plugin_reuses_the_recorder_already_on_the_context(context, recorder, tag_recorder):
    assert attached_recorder(context) is recorder is tag_recorder
    assert tag_recorder.config is not None


def test_decode_reads_every_vendor_format(page, gateway, tag_recorder):
    page.goto(gateway.url + "/product.html")
    accept_all(page)
    page.locator(".add-to-cart").first.click()
    [hit] = tag_recorder.assert_fired("meta-add-to-cart", once=True, currency="EUR")
    assert hit.params["content_ids"] and isinstance(hit.params["value"], float), hit.params
    assert {e.vendor for e in decode(tag_recorder.requests)} >= {"ga4", "meta_pixel", "tiktok_pixel"}


def test_withdraw_can_keep_a_category_and_assert_silent_can_count_only_some(page, gateway, tag_recorder):
    page.goto(gateway.url + "/")
    accept_all(page)
    tag_recorder.assert_fired("meta-pageview")
    with pytest.raises(AssertionError) as failed:
        tag_recorder.assert_silent(wait_ms=0, categories=["marketing"])
    assert "of ['marketing']" in str(failed.value) and "meta-pageview" in str(failed.value)

    consent = withdraw(page, keep=["analytics"])
    assert consent["categories"] == ["necessary", "analytics"], consent
    tag_recorder.clear()
    page.reload()
    wait_ready(page)
    tag_recorder.assert_fired("ga4", once=True)
    tag_recorder.assert_silent(categories=["marketing"])  # analytics fired, marketing did not
    assert {r.host for r in tag_recorder.requests_of(["analytics"])} == {
        "www.googletagmanager.com", "region1.google-analytics.com"}, tag_recorder.report()

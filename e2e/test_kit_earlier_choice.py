"""The kit's `earlier_choice`: a visitor who chose on an earlier visit, and one whose choice expired."""

from __future__ import annotations

from playwright.sync_api import expect

from gateway.testing import earlier_choice

from .support import DEFAULT_CONFIG_DIR, Shop


def test_a_choice_from_an_earlier_visit_is_used_without_asking(gateway, context, page, recorder):
    earlier_choice(context, gateway.url, ["analytics"])  # signed by the gateway, as a visitor's is
    shop = Shop(page, gateway.url, recorder).open("/")
    assert shop.state() == "decided" and shop.consent()["categories"] == ["necessary", "analytics"]
    expect(shop.banner).to_have_count(0)  # no banner markup was even sent
    recorder.assert_fired("ga4")
    recorder.assert_silent(categories=["marketing"])  # past the automatic hits: no Meta, no TikTok


def test_an_expired_choice_asks_again_and_grants_nothing(gateway, context, page, recorder):
    earlier_choice(context, gateway.url, ["analytics", "marketing"], secret=gateway.secret, days_ago=181,
                   config=DEFAULT_CONFIG_DIR)  # the example config keeps a choice 180 days
    shop = Shop(page, gateway.url, recorder).open("/")
    assert shop.state() == "undecided"
    expect(shop.banner).to_be_visible()
    recorder.assert_silent()


def test_a_recent_choice_made_here_is_used(gateway, context, page, recorder):
    earlier_choice(context, gateway.url, ["marketing"], secret=gateway.secret, days_ago=10, config=DEFAULT_CONFIG_DIR)
    shop = Shop(page, gateway.url, recorder).open("/")
    assert shop.state() == "decided" and shop.consent()["categories"] == ["necessary", "marketing"]
    recorder.assert_fired("meta-pageview")

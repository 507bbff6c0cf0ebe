"""Conditions, variables and firing rules in a real browser, with consent in the way as on a real store.

The purchase is counted once over two reloads of the thank-you page and a second tab; session and
page rules hold; a setup tag goes first; a delayed tag re-checks consent; a page view sees what the
store pushed before the container loaded; parameters without a value are left out.
"""

from __future__ import annotations

from gateway.testing import accept_all

from .support import Shop

SITE = """
site:
  name: Rules Store
  allowed_origins: ["http://127.0.0.1:*"]
  policy_version: 1
  privacy_policy_url: /privacy.html
categories:
  marketing: {label: Marketing, description: Ads.}
variables:
  tier_label: {lookup: "{{ cookie.tier }}", table: {gold: G, platinum: P}, default: none}
  campaign: {value: "{{ url.query.utm_campaign }}", default: direct}
  shop: {constant: rules-store}
"""

TAGS = """
tags:
  - id: conversion
    category: marketing
    trigger: {type: event, event: purchase}
    fire: {once_per_key: "{{ event.ecommerce.transaction_id }}"}
    setup: base
    image:
      url: https://conv.example/p.gif
      params: {order: "{{ event.ecommerce.transaction_id }}", value: "{{ dataLayer.ecommerce.value }}", shop: "{{ var.shop }}"}
  - id: base
    category: marketing
    trigger: {type: event, event: never-pushed}
    image: {url: "https://base.example/p.gif"}
  - id: session-visit
    category: marketing
    trigger: {type: page_view}
    fire: once_per_session
    image: {url: "https://session.example/p.gif"}
  - id: checkout-view
    category: marketing
    trigger:
      type: page_view
      conditions: [{value: "{{ page.path }}", starts_with: /checkout}]
      unless: [{value: "{{ url.query.preview }}", equals: "1"}]
    image:
      url: https://checkout.example/p.gif
      params: {campaign: "{{ var.campaign }}", cart: "{{ dataLayer.cart.size }}", missing: "{{ event.nothing }}",
               mixed: "id-{{ event.nothing }}", kept: "id-{{ var.shop }}"}
  - id: vip-login
    category: marketing
    trigger:
      type: event
      event: login
      conditions:
        - any:
            - {value: "{{ cookie.tier }}", in: [gold, platinum]}
            - {value: "{{ event.points }}", gte: 1000}
        - {value: "{{ event.email }}", matches: "@example\\\\.com$", not: true}
    fire: once_per_page
    image: {url: "https://vip.example/p.gif", params: {tier: "{{ var.tier_label }}"}}
  - id: slow
    category: marketing
    trigger: {type: event, event: slow}
    delay_ms: 1500
    image: {url: "https://slow.example/p.gif"}
"""

THANKS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Thanks</title>
<script>
  window.dataLayer = window.dataLayer || [];
  dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-1001', value: 42.5, currency: 'EUR'}});
</script>
<script src="/container.js" async></script></head><body><p>Thank you</p></body></html>
"""

CHECKOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title>
<script>window.dataLayer = [{cart: {size: 3}}];</script>
<script src="/container.js" async></script></head><body><p>Pay</p></body></html>
"""


def _store(tmp_path):
    config_dir, store_dir = tmp_path / "config", tmp_path / "store"
    (store_dir / "checkout").mkdir(parents=True)
    config_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(TAGS)
    (store_dir / "thanks.html").write_text(THANKS)
    (store_dir / "checkout" / "pay.html").write_text(CHECKOUT)
    (store_dir / "index.html").write_text(CHECKOUT.replace("Checkout", "Home"))
    return config_dir, store_dir


def hosts(recorder) -> list[str]:
    return [r.host.split(".")[0] for r in recorder.requests]


def test_a_purchase_counts_once_over_reloads_and_tabs_and_its_setup_tag_goes_first(tmp_path, gateway_factory, context,
                                                                                   page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    shop = Shop(page, server.url, recorder).open("/thanks.html")
    shop.settle()
    assert recorder.requests == []  # nothing before the choice; the purchase is held

    accept_all(page)
    recorder.wait_for(page, lambda: recorder.events("conversion"))
    shop.settle()
    [conversion] = recorder.events("conversion")
    assert conversion.params == {"order": "T-1001", "value": "42.5", "shop": "rules-store"}
    assert hosts(recorder).index("base") < hosts(recorder).index("conv")  # the setup tag first
    assert len(recorder.events("base")) == 1 and len(recorder.events("session-visit")) == 1

    shop.reload()
    shop.reload()
    other = context.new_page()  # a second tab shows the same thank-you page
    Shop(other, server.url, recorder).open("/thanks.html")
    recorder.settle(other)
    shop.settle()
    assert len(recorder.events("conversion")) == 1, recorder.report()
    assert len(recorder.events("session-visit")) == 1  # once per browser session, across tabs

    page.evaluate("dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-1002', value: 10}})")
    recorder.wait_for(page, lambda: recorder.events("conversion"), count=2)
    assert recorder.events("conversion")[1].params["order"] == "T-1002"
    marks = {c["name"]: c for c in context.cookies() if c["name"] in ("tg_fs", "tg_fv")}
    assert marks["tg_fs"]["expires"] == -1 and marks["tg_fv"]["expires"] > 0  # session cookie / 13 months
    assert "T-100" not in marks["tg_fv"]["value"]  # hashes, never the order number


def test_conditions_variables_and_missing_values(tmp_path, gateway_factory, context, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    shop.settle()
    assert recorder.events("checkout-view") == []  # not a checkout path

    shop.open("/checkout/pay.html?preview=1")
    shop.settle()
    assert recorder.events("checkout-view") == []  # blocked by `unless`
    shop.open("/checkout/pay.html?utm_campaign=spring")
    recorder.wait_for(page, lambda: recorder.events("checkout-view"))
    shop.open("/checkout/pay.html")
    recorder.wait_for(page, lambda: recorder.events("checkout-view"), count=2)
    first, second = [e.params for e in recorder.events("checkout-view")]
    # The page view saw the push made before the container loaded; parameters without a value are left out.
    assert first == {"campaign": "spring", "cart": "3", "kept": "id-rules-store"}
    assert second["campaign"] == "direct"  # the variable's default

    push = "dataLayer.push({event: 'login', points: %d, email: '%s'})"
    page.evaluate(push % (10, "ada@shop.test"))         # no tier cookie, few points
    page.evaluate(push % (5000, "staff@example.com"))   # excluded by the negated regex
    page.wait_for_timeout(300)
    assert recorder.events("vip-login") == []
    context.add_cookies([{"name": "tier", "value": "gold", "url": server.url}])
    page.evaluate(push % (10, "ada@shop.test"))
    page.evaluate(push % (9000, "ada@shop.test"))       # once per page
    recorder.wait_for(page, lambda: recorder.events("vip-login"))
    shop.settle()
    assert [e.params for e in recorder.events("vip-login")] == [{"tier": "G"}]


def test_a_delayed_tag_fires_late_and_not_after_a_withdrawal(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    shop.settle()
    page.evaluate("dataLayer.push({event: 'slow'})")
    page.wait_for_timeout(700)
    assert recorder.events("slow") == []  # still waiting
    recorder.wait_for(page, lambda: recorder.events("slow"))

    page.evaluate("dataLayer.push({event: 'slow'})")
    page.evaluate("tagGateway.rejectAll()")  # withdrawn before the delay is over
    page.wait_for_timeout(2000)
    assert len(recorder.events("slow")) == 1


def test_an_order_counted_on_one_subdomain_is_not_counted_again_on_another(tmp_path, gateway_factory, playwright_session):
    # site.cookie_domain shares the choice and the de-duplication marks between www. and checkout.: the
    # browser here resolves *.shop.test to this machine, where the gateway serves both hosts.
    from .support import CHROMIUM_ARGS, find_chromium, new_recorded_context

    config_dir, store_dir = _store(tmp_path)
    (config_dir / "site.yaml").write_text(SITE.replace('allowed_origins: ["http://127.0.0.1:*"]',
                                                       'allowed_origins: ["http://*.shop.test:*"]\n  cookie_domain: shop.test'))
    server = gateway_factory(config_dir, store_dir)
    resolver = "--host-resolver-rules=MAP *.shop.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"
    browser = playwright_session.chromium.launch(executable_path=find_chromium(playwright_session), headless=True,
                                                 args=[*CHROMIUM_ARGS[:-1], resolver])
    try:
        context, recorder = new_recorded_context(browser)
        recorder.use_config(config_dir)
        context.route("http://*.shop.test:*/**", lambda route: route.continue_())  # the store itself, not a vendor
        page = context.new_page()
        www = server.url.replace("127.0.0.1", "www.shop.test")
        Shop(page, www, recorder).open("/thanks.html")
        accept_all(page)
        recorder.wait_for(page, lambda: recorder.events("conversion"))

        other = context.new_page()
        checkout = server.url.replace("127.0.0.1", "checkout.shop.test")
        shop = Shop(other, checkout, recorder).open("/thanks.html")
        assert shop.state() == "decided"  # the choice made on www. holds here
        recorder.settle(other)
        assert len(recorder.events("conversion")) == 1, recorder.report()
        other.evaluate("dataLayer.push({event: 'purchase', ecommerce: {transaction_id: 'T-2002', value: 5}})")
        recorder.wait_for(other, lambda: recorder.events("conversion"), count=2)
        marks = [c for c in context.cookies() if c["name"] == "tg_fv"]
        assert [c["domain"] for c in marks] == [".shop.test"]
    finally:
        browser.close()


def test_a_withdrawal_removes_the_de_duplication_marks(tmp_path, gateway_factory, context, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    shop = Shop(page, server.url, recorder).open("/thanks.html")
    accept_all(page)
    recorder.wait_for(page, lambda: recorder.events("conversion"))
    marks = lambda: sorted(c["name"] for c in context.cookies() if c["name"] in ("tg_fs", "tg_fv"))  # noqa: E731
    assert marks() == ["tg_fs", "tg_fv"]

    page.evaluate("tagGateway.rejectAll()")
    page.wait_for_function("window.tagGateway.consent && window.tagGateway.consent.categories.length === 1")
    assert marks() == []  # nothing kept for tags the visitor no longer allows
    shop.reload()
    shop.settle()
    assert marks() == [] and len(recorder.events("conversion")) == 1

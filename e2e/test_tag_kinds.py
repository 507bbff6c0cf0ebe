"""Tag kinds and holding rules beyond the example store: necessary tags, script tags, repeats, held clicks,
and a broken config edit while the gateway runs."""

import json
import time

from playwright.sync_api import expect

from gateway.testing import accept_all

from .support import ADS_CONVERSION_PATH, DEFAULT_CONFIG_DIR, Shop, http_request

SITE = """
site:
  name: Kinds Store
  allowed_origins: ["http://127.0.0.1:*"]
  policy_version: 1
  privacy_policy_url: /privacy.html
categories:
  analytics: {label: Analytics, description: Counts visits.}
"""

TAGS = """
tags:
  - id: uptime
    category: necessary
    trigger: {type: page_view}
    image:
      url: https://status.example/p.gif
      params: {path: "{{ page.path }}", site: kinds}
  - id: stats-lib
    category: analytics
    trigger: {type: event, event: signup}
    script:
      src: https://lib.example/stats.js
      init: "new Image().src = 'https://collect.example/e?lib=' + window.statsLoaded + '&plan=' + encodeURIComponent(tagGateway.event.plan)"
"""


def _write_config(tmp_path):
    config_dir = tmp_path / "kinds"
    config_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(TAGS)
    return config_dir


def test_necessary_tags_fire_before_any_choice(tmp_path, gateway_factory, page, recorder):
    config_dir = _write_config(tmp_path)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    shop = Shop(page, server.url, recorder).open("/product.html")

    expect(shop.banner).to_be_visible()
    [uptime] = recorder.assert_fired("uptime", once=True)
    assert uptime.params == {"path": "/product.html", "site": "kinds"}
    assert [e.tag_id for e in recorder.events()] == ["uptime"] and len(recorder.requests) == 1, recorder.report()


def test_script_tag_loads_its_library_once_then_runs_init_per_event(tmp_path, gateway_factory, context, page, recorder):
    context.route("https://lib.example/**", lambda route: route.fulfill(
        content_type="text/javascript", body="window.statsLoaded = (window.statsLoaded || 0) + 1;"))
    config_dir = _write_config(tmp_path)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    # What the tag's own `init` sends goes to a host no tag declares: the kit lists it as an unknown third party.
    collected = lambda: [r for r in recorder.unknown_third_parties() if r.host == "collect.example"]  # noqa: E731
    shop = Shop(page, server.url, recorder).open("/")
    page.evaluate("dataLayer.push({event: 'signup', plan: 'pro & more'})")
    shop.settle()
    assert collected() == []  # analytics not allowed yet: held

    accept_all(page)
    recorder.wait_for(page, collected)
    page.evaluate("dataLayer.push({event: 'signup', plan: 'basic'})")
    recorder.wait_for(page, collected, count=2)
    shop.settle()

    first, second = collected()
    assert first.params == {"lib": "1", "plan": "pro & more"}  # ran after the library loaded, with the held event
    assert second.params == {"lib": "1", "plan": "basic"}  # the library was not loaded again
    assert page.evaluate("window.statsLoaded") == 1


def test_identical_conversions_are_each_sent(shop, recorder):
    shop.open("/thank-you.html")
    accept_all(shop.page)
    recorder.assert_fired("google-ads-conversion", transaction_id="ORD-1001")
    # The store pushes the very same purchase again (say, a second order with equal data).
    shop.page.evaluate("dataLayer.push(JSON.parse(JSON.stringify(dataLayer.find(e => e.event === 'purchase'))))")
    first, second = recorder.assert_fired("google-ads-conversion", times=2, transaction_id="ORD-1001")
    assert first.params == second.params and first.hit.path == second.hit.path == ADS_CONVERSION_PATH
    # On the wire too, the same conversion both times; only what the library varies per hit (cache
    # busters) differs.
    per_hit = {"random", "fst"}
    same = lambda hit: {k: v for k, v in hit.params.items() if k not in per_hit}  # noqa: E731
    assert same(first.hit) == same(second.hit), (first.hit, second.hit)


def test_click_before_the_choice_is_held_and_sent_once_after_accept(shop, recorder):
    shop.open("/product.html")
    shop.page.locator(".add-to-cart").click()
    recorder.assert_silent(wait_ms=0)

    accept_all(shop.page)
    [add_to_cart] = recorder.assert_fired("meta-add-to-cart", once=True)
    assert add_to_cart.params["content_ids"] == ["SKU-42"]


def test_a_broken_edit_keeps_the_last_good_config_serving(tmp_path, gateway_factory, page, recorder):
    import shutil

    config_dir = tmp_path / "tag_configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    server = gateway_factory(config_dir)
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("category: marketing", "category: marketting", 1))

    deadline = time.monotonic() + 15
    while True:
        health = json.loads(http_request("GET", server.url + "/healthz").text)
        if health["status"] == "degraded" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert health["status"] == "degraded" and health["config_problems"] == 1, health
    assert "'marketting' is not declared" in server.output()  # details go to the log, not to /healthz

    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    recorder.assert_fired("meta-pageview")
    recorder.assert_fired("ga4")
    assert "still serving the previous version" in server.output()


def test_two_meta_pixels_each_get_their_own_event_once(tmp_path, gateway_factory, page, recorder):
    config_dir = tmp_path / "two_pixels"
    config_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE.replace("analytics:", "marketing:"))
    (config_dir / "tags.yaml").write_text("""
tags:
  - {id: brand-a, category: marketing, trigger: {type: page_view}, meta_pixel: {pixel_id: "111111"}}
  - {id: brand-b, category: marketing, trigger: {type: page_view}, meta_pixel: {pixel_id: "222222"}}
""")
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    Shop(page, server.url, recorder).open("/")
    accept_all(page)
    assert recorder.assert_fired("brand-a", once=True)[0].account == "111111"
    assert recorder.assert_fired("brand-b", once=True)[0].account == "222222"
    assert sorted(e.account for e in recorder.events() if e.event == "PageView") == ["111111", "222222"]


VENDOR_SNIPPET_TAGS = """
tags:
  - id: queue-lib
    category: analytics
    trigger: {type: page_view}
    script:
      src: https://lib.example/queue-reader.js
      init_runs: before_load
      # A vendor snippet as vendors ship it: set up the queue, then the library reads it. Minified code
      # is full of }}; the escape keeps it from reading as a placeholder.
      init: |
        window.vq = window.vq || []; window.vq.push(['init', 'A-1']); var cfg = {a: {b: 1{{ '}}' }};
        window.vq.push(['page', cfg.a.b]);
"""


def test_a_vendor_snippet_sets_up_its_queue_before_its_library_loads(tmp_path, gateway_factory, context, page, recorder):
    # The stand-in library sends what it found queued when it loaded: with init after the library (the
    # default) it would find nothing, which is how a vendor's queue gets lost.
    context.route("https://lib.example/**", lambda route: route.fulfill(content_type="text/javascript", body=(
        "var n = (window.vq || []).length;"
        "fetch('https://collect.example/e?queued=' + n + '&first=' + (n ? window.vq[0][0] : ''), {mode: 'no-cors'});")))
    config_dir = tmp_path / "snippet"
    config_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(VENDOR_SNIPPET_TAGS)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    collected = lambda: [r for r in recorder.unknown_third_parties() if r.host == "collect.example"]  # noqa: E731
    Shop(page, server.url, recorder).open("/")
    accept_all(page)
    [beacon] = recorder.wait_for(page, collected)
    assert beacon.params == {"queued": "2", "first": "init"}
    assert page.evaluate("window.vq[1]") == ["page", 1]  # the escaped }} ran as code

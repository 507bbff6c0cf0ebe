"""Attacks by a visitor who can post HTML but not script (a product review), and by a config key
that every JavaScript object already has. Both used to hand out consent nobody gave.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from gateway.config import Category, load_config
from gateway.container import build_container

from gateway.testing import reject_all

from .support import DEFAULT_CONFIG_DIR, STORE_DIR, Shop

# Markup a review may contain: named elements that shadow document properties.
HOSTILE_REVIEW = """
<section class="reviews"><h2>Reviews</h2>
  <article>Great bag! Five stars.
    <img name="currentScript" src="https://attacker.example/container.js" alt="">
    <form name="cookie"></form>
    <img name="body" alt=""><img name="head" alt=""><img name="title" alt="">
    <form name="createElement"></form><img name="referrer" alt="">
  </article>
</section>
"""

ATTACKER_ANSWER = {
    "token": "attacker.token.value",
    "consent": {"categories": ["necessary", "analytics", "marketing"], "policy_version": 1,
                "id": "attacker", "timestamp": "2026-01-01T00:00:00Z"},
}


def store_with_review(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(STORE_DIR, store)
    page = (store / "product.html").read_text()
    # The review goes in the page; the store's own inline script is left out, as it would break
    # on the clobbered document just the same (it is not what this test is about).
    page = page.split("  <script>\n    // Only UI feedback.")[0] + "</body>\n</html>\n"
    (store / "review.html").write_text(page.replace("  </main>", HOSTILE_REVIEW + "  </main>"))
    return store


def test_a_review_that_clobbers_document_cannot_redirect_or_grant_consent(gateway_factory, tmp_path, page, recorder):
    server = gateway_factory(DEFAULT_CONFIG_DIR, store_with_review(tmp_path))
    to_attacker: list[str] = []

    def attacker(route):
        to_attacker.append(f"{route.request.method} {route.request.url}")
        if route.request.resource_type == "image":
            route.fulfill(status=404)
        else:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(ATTACKER_ANSWER),
                          headers={"Access-Control-Allow-Origin": server.url, "Access-Control-Allow-Credentials": "true"})

    page.route("https://attacker.example/**", attacker)
    consent_posts: list[str] = []
    page.on("request", lambda r: consent_posts.append(r.url) if r.method == "POST" and "/consent" in r.url else None)
    shop = Shop(page, server.url, recorder)
    shop.open("/review.html")
    assert page.evaluate("() => document.currentScript.tagName") == "IMG"  # the clobbering is real

    assert shop.state() == "undecided"
    reject_all(page)
    # The attacker's host is the page's own route, not a vendor: only vendors must stay silent here.
    recorder.assert_silent(wait_ms=0, allow_hosts=("attacker.example",))

    assert consent_posts == [f"{server.url}/consent"]
    assert all(line.startswith("GET ") and line.endswith("/container.js") for line in to_attacker), to_attacker
    assert shop.consent()["categories"] == ["necessary"]
    # The choice was stored in the first-party cookie although `document.cookie` is a <form>.
    assert any(c["name"] == "tg_consent" and c["domain"] == "127.0.0.1" for c in page.context.cookies())

    shop.reload()
    assert shop.state() == "decided" and shop.consent()["categories"] == ["necessary"]


def test_a_category_named_constructor_is_not_granted_by_default(gateway, page, recorder):
    """The schema refuses such a key; this proves the container does not depend on that."""
    config = load_config(DEFAULT_CONFIG_DIR)
    sneaky = Category("constructor", "Constructor", "A key every JavaScript object has.")
    tags = tuple(replace(t, category="constructor") if t.kind == "meta_pixel" else t for t in config.tags)
    container = build_container(replace(config, categories=config.categories + (sneaky,), tags=tags))
    page.route(f"{gateway.url}/container.js",
               lambda route: route.fulfill(status=200, content_type="text/javascript", body=container.body))
    shop = Shop(page, gateway.url, recorder)
    shop.open("/product.html")
    page.locator(".add-to-cart").click()
    recorder.assert_silent(wait_ms=0)

    reject_all(page)
    page.locator(".add-to-cart").click()
    recorder.assert_silent(wait_ms=0)

"""Two stores, one gateway (a config root of sites, tests/samples/multi_site/): a choice on one store is
never a choice on the other, and each store's pixel fires only from its own container.

The stores are on different hosts, as in production: the shoe shop at http://127.0.0.1:<port> (the only
origin its site allows), the hat shop at http://localhost:<port>; the gateway at 127.0.0.1:<its port>.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from gateway.testing import accept_all

from .support import REPO

SITES = REPO / "tests" / "samples" / "multi_site"
SHOES_PIXEL, HATS_PIXEL = "pixel.shoes.example", "pixel.hats.example"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="{gateway}/c/{site}.js" async></script></head>
<body><h1>{title}</h1></body></html>"""


@pytest.fixture
def serve_page():
    """Serve one store page (`/`) from `host` on a port of its own."""
    servers = []

    def serve(host: str, html: str) -> str:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path.split("?")[0] == "/" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://{host}:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def wait_ready(page) -> str:
    page.wait_for_function("() => window.tagGateway && window.tagGateway.state !== 'loading'")
    return page.evaluate("() => window.tagGateway.state")


def stores_of(requests) -> set[str]:
    return {r.params.get("store") for r in requests}


def test_a_choice_on_one_store_is_not_a_choice_on_the_other(gateway_factory, serve_page, page, recorder) -> None:
    gateway = gateway_factory(SITES)
    shoes = serve_page("127.0.0.1", PAGE.format(title="Shoe Shop", gateway=gateway.url, site="shoes"))
    hats = serve_page("localhost", PAGE.format(title="Hat Shop", gateway=gateway.url, site="hats"))

    # The shoe shop asks with its own banner; accepting there fires its own pixel, and only that one.
    page.goto(shoes)
    assert wait_ready(page) == "undecided"
    expect(page.get_by_role("dialog", name="Shoe Shop privacy choices")).to_be_visible()
    consent = accept_all(page, config=SITES / "shoes")
    assert consent["categories"] == ["necessary", "analytics"]
    recorder.wait_for(page, lambda: recorder.pixels(SHOES_PIXEL))
    assert stores_of(recorder.pixels(SHOES_PIXEL)) == {"shoes"}

    # The hat shop, same browser, same gateway: nothing was decided there, so its banner asks and its
    # pixel stays silent; the shoe shop's pixel is not in its container at all.
    shoe_hits = len(recorder.pixels(SHOES_PIXEL))
    page.goto(hats)
    assert wait_ready(page) == "undecided"
    assert page.evaluate("() => window.tagGateway.consent") is None
    expect(page.get_by_role("dialog", name="Hat Shop privacy choices")).to_be_visible()
    recorder.wait_past_automatic_hits(page, 1000)
    assert recorder.pixels(HATS_PIXEL) == [] and len(recorder.pixels(SHOES_PIXEL)) == shoe_hits, recorder.report()

    # Accepting on the hat shop fires the hat pixel (its own categories: marketing too).
    assert accept_all(page, config=SITES / "hats")["categories"] == ["necessary", "analytics", "marketing"]
    recorder.wait_for(page, lambda: recorder.pixels(HATS_PIXEL))
    assert stores_of(recorder.pixels(HATS_PIXEL)) == {"hats"} and len(recorder.pixels(SHOES_PIXEL)) == shoe_hits

    # Back on the shoe shop: its own choice still holds, and only its pixel fires.
    hat_hits = len(recorder.pixels(HATS_PIXEL))
    page.goto(shoes)
    assert wait_ready(page) == "decided"
    recorder.wait_for(page, lambda: recorder.pixels(SHOES_PIXEL), count=shoe_hits + 1)
    assert len(recorder.pixels(HATS_PIXEL)) == hat_hits
    assert stores_of(recorder.pixels(SHOES_PIXEL)) == {"shoes"}
    # Both choices were recorded, each by its own site's endpoint.
    records = [json.loads(line) for line in gateway.consents("export").stdout.splitlines()]
    assert [(r["action"], r["categories"]) for r in records] == [
        ("accept_all", ["necessary", "analytics"]), ("accept_all", ["necessary", "analytics", "marketing"])]

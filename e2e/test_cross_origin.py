"""A store on another origin than the gateway (the usual production setup)."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from gateway.testing import accept_all

from .support import DEFAULT_CONFIG_DIR, STORE_DIR, Shop, http_request

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8"}


@pytest.fixture
def serve_store_elsewhere():
    """Serve the example store from http://localhost:<port>, loading a gateway's script by URL."""
    servers = []

    def serve(gateway) -> str:
        files = {}
        for path in STORE_DIR.iterdir():
            body = path.read_bytes()
            if path.suffix == ".html":
                body = body.replace(b'src="/container.js"', f'src="{gateway.url}/container.js"'.encode())
            files["/" + path.name] = (body, CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
        files["/"] = files["/index.html"]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                found = files.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def foreign_store(gateway, serve_store_elsewhere):
    return serve_store_elsewhere(gateway)


def test_consent_works_from_another_origin(page, recorder, context, gateway, foreign_store):
    shop = Shop(page, foreign_store, recorder)
    shop.open("/")
    expect(shop.banner).to_be_visible()
    recorder.assert_silent(wait_ms=0)

    with page.expect_response(lambda r: r.url.startswith(gateway.url + "/consent") and r.request.method == "POST") as info:
        accept_all(page)
    response = info.value
    assert response.ok
    assert response.headers.get("access-control-allow-origin") == foreign_store

    [page_view] = recorder.assert_fired("ga4")
    recorder.assert_fired("meta-pageview")
    recorder.assert_fired("tiktok-pageview")
    assert page_view.page.startswith(foreign_store), page_view.page
    # The choice is kept as a first-party cookie of the store's origin.
    assert any(c["name"] == "tg_consent" for c in context.cookies(foreign_store)), context.cookies()

    recorder.clear()
    shop.reload()
    expect(shop.banner).to_be_hidden()
    assert shop.state() == "decided"
    recorder.assert_fired("ga4", once=True)
    recorder.assert_fired("meta-pageview", once=True)


def test_store_origin_missing_from_config_gets_no_consent(
    tmp_path, gateway_factory, serve_store_elsewhere, page, recorder, context
):
    config_dir = tmp_path / "tag_configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    site_yaml = config_dir / "site.yaml"
    site_yaml.write_text(site_yaml.read_text().replace("    - http://localhost:*\n", ""))
    gateway = gateway_factory(config_dir)
    shop = Shop(page, serve_store_elsewhere(gateway), recorder).open("/")

    # Clicked by hand: the kit's accept_all() waits for a stored choice, and this one cannot be stored.
    shop.button(shop.banner, "Accept all").click()
    page.wait_for_function("() => tagGateway.state !== 'loading'")

    # No provable consent, so nothing optional may fire, and the visitor is asked again.
    recorder.assert_silent(wait_ms=0)
    assert not any(c["name"] == "tg_consent" for c in context.cookies()), context.cookies()
    shop.open("/product.html")
    expect(shop.banner).to_be_visible()


@pytest.mark.parametrize(
    "method, request_headers",
    [("POST", "content-type"), ("GET", "content-type, x-tag-gateway-consent")],
    ids=["store-choice", "verify-stored-choice"],
)
def test_consent_endpoint_answers_cors_preflight(gateway, foreign_store, method, request_headers):
    # Playwright answers CORS preflights itself while request interception is on, so the
    # browser test above cannot see the gateway's own preflight answer: ask it directly.
    response = http_request(
        "OPTIONS",
        gateway.url + "/consent",
        headers={
            "Origin": foreign_store,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": request_headers,
        },
    )
    assert response.status in (200, 204), response.text
    # The container sends credentials, so the origin must be echoed (not "*").
    assert response.headers.get("access-control-allow-origin") == foreign_store
    assert response.headers.get("access-control-allow-credentials") == "true"
    assert method in response.headers.get("access-control-allow-methods", "").upper()
    allowed = response.headers.get("access-control-allow-headers", "").lower()
    for header in request_headers.split(", "):
        assert header in allowed


def test_consent_endpoint_refuses_to_store_a_choice_for_unknown_origins(gateway):
    response = http_request(
        "POST",
        gateway.url + "/consent",
        headers={"Origin": "https://evil.example", "Content-Type": "application/json"},
        body=json.dumps({"categories": ["analytics", "marketing"]}).encode(),
    )
    assert response.status == 403, response
    assert "token" not in json.loads(response.text)
    assert "set-cookie" not in response.headers

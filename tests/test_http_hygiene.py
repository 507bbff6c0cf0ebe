"""The HTTP layer's answers to hostile or malformed requests (issue 8's security review).

Bad Origin headers and odd methods get a 4xx JSON error (never a 500 with a traceback), only a
normalised origin is ever echoed, a refused origin never gets credentials, JSON answers carry
nosniff/CORP (errors also no-store), and an ambiguous request length is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, STORE_ORIGIN

JSON = {"Content-Type": "application/json"}
CHOICE = b'{"categories": ["analytics"]}'


def no_traceback(caplog) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize("origin", ["http://localhost:99999", "http://localhost:abc", "http://[::1",
                                    "http://localhost:0", "http://evil.example:80@localhost", "http://localhost:1#x",
                                    "http://localhost/path", "http://localhost?x", "ftp://localhost",
                                    "http://[::1]:99999", "http://[zz::1]", "http://local host"])
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_malformed_origin_gets_400_json_without_traceback(client, caplog, origin, method) -> None:
    response = client.request(method, "/consent", content=CHOICE,
                              headers={**JSON, "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_origin"
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    assert "set-cookie" not in response.headers
    no_traceback(caplog)


@pytest.mark.parametrize("sent,echoed", [
    ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
    ("HTTP://LOCALHOST:3000", "http://localhost:3000"),
    ("http://localhost:80", "http://localhost"),  # the default port is not part of an origin
    ("http://localhost:03000", "http://localhost:3000"),
])
def test_only_the_normalised_origin_is_echoed(client, sent, echoed) -> None:
    response = client.post("/consent", content=CHOICE, headers={**JSON, "Origin": sent})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == echoed
    assert response.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example:3000", "null"])
def test_refused_origins_never_get_credentials(client, origin) -> None:
    for response in (client.post("/consent", content=CHOICE, headers={**JSON, "Origin": origin}),
                     client.get("/consent", headers={"Origin": origin}),
                     client.options("/consent", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-credentials" not in response.headers
        assert "set-cookie" not in response.headers


def test_allowed_preflight_still_passes_with_credentials(client) -> None:
    ok = client.options("/consent", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert ok.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_405_names_every_method_of_consent(client, method) -> None:
    response = client.request(method, "/consent")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert response.json()["error"]["code"] == "http_error"


def test_405_names_the_real_methods_with_a_store_mounted(live, consent_log, tmp_path) -> None:
    # The store's catch-all mount answers every path, so Starlette's own 405 said "GET, HEAD" here.
    from starlette.testclient import TestClient

    from conftest import SECRET
    from gateway.app import create_app

    (tmp_path / "shop").mkdir()
    app = create_app(live, SECRET, consent_log, store_dir=tmp_path / "shop", watch=False)
    with TestClient(app, base_url="http://gateway.test") as client:
        assert client.put("/consent").headers["allow"] == "GET, HEAD, OPTIONS, POST"
        assert client.put("/index.html").headers["allow"] == "GET, HEAD"


def test_json_answers_are_not_sniffed_nor_embedded_and_errors_are_not_cached(client) -> None:
    answers = {
        "GET /consent": client.get("/consent"),
        "POST /consent": client.post("/consent", content=CHOICE, headers={**JSON, "Origin": STORE_ORIGIN}),
        "GET /healthz": client.get("/healthz"),
    }
    errors = {
        "403": client.post("/consent", content=CHOICE, headers={**JSON, "Origin": "https://evil.example"}),
        "400": client.post("/consent", content=b"{", headers={**JSON, "Origin": STORE_ORIGIN}),
        "404": client.get("/nothing-here"),
        "405": client.put("/consent"),
        "415": client.post("/consent", content=CHOICE, headers={"Origin": STORE_ORIGIN, "Content-Type": "text/plain"}),
    }
    for name, response in {**answers, **errors}.items():
        assert response.headers["content-type"] == "application/json", name
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["cross-origin-resource-policy"] == "same-origin", name
    for name, response in errors.items():
        assert response.status_code == int(name)
        assert response.headers["cache-control"] == "no-store", name


@pytest.mark.parametrize("depth", [3, 100, 500, 900, 990, 1000, 1020])
def test_deeply_nested_json_is_a_400(client, caplog, depth) -> None:
    # A real choice is two levels deep; ~1,000 levels fit in the 2 KB limit.
    body = b'{"categories":' + b"[" * depth + b"]" * depth + b"}"
    response = client.post("/consent", content=body, headers={**JSON, "Origin": STORE_ORIGIN})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_body", "body_too_large")
    no_traceback(caplog)


def call_asgi(app, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request straight into the ASGI app: test clients fix up framing headers themselves."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/consent", "raw_path": b"/consent", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"gateway.test"), *headers], "client": ("127.0.0.1", 50000),
             "server": ("gateway.test", 80)}
    sent: list[dict] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_content_length_with_transfer_encoding_is_refused(live, consent_log) -> None:
    from conftest import SECRET
    from gateway.app import create_app

    app = create_app(live, SECRET, consent_log, watch=False)
    base = [(b"origin", STORE_ORIGIN.encode()), (b"content-type", b"application/json")]
    status, headers, body = call_asgi(app, base + [(b"content-length", b"4"), (b"transfer-encoding", b"chunked")],
                                      CHOICE)
    assert status == 400 and json.loads(body)["error"]["code"] == "ambiguous_length"
    assert headers[b"connection"] == b"close"
    assert list(consent_log.records()) == []
    status, _, _ = call_asgi(app, base + [(b"content-length", str(len(CHOICE)).encode())], CHOICE)
    assert status == 200 and len(list(consent_log.records())) == 1


def test_the_real_server_never_answers_a_request_smuggled_behind_an_ambiguous_length(tmp_path) -> None:
    # `gateway serve` runs uvicorn with httptools (llhttp), which refuses a request carrying both
    # headers with its own 400 and closes the connection before the app sees it; under a server
    # that accepts both (h11), the ASGI check above refuses it. Either way exactly one answer, and
    # the bytes after the body are never read as a request.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TAG_GATEWAY_SECRET": secrets.token_hex(32),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'log.sqlite3'}"}
    output = tmp_path / "server.log"
    with output.open("wb") as sink:
        server = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(ROOT / "tag_configs"),
                                   "--port", str(port), "--no-watch"], cwd=tmp_path, env=env, stdout=sink,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # its workers in its group
    try:
        deadline = time.monotonic() + 40
        while True:
            assert server.poll() is None, output.read_text()
            try:  # ready when it answers, not merely when the port is open
                with socket.create_connection(("127.0.0.1", port), timeout=2) as ready:
                    ready.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if ready.recv(100).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gateway serve did not answer within 40 s:\n" + output.read_text()
            time.sleep(0.2)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(CHOICE), CHOICE)
        smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        received = []
        for request in (b"POST /consent HTTP/1.1\r\nHost: x\r\nOrigin: " + STORE_ORIGIN.encode()
                        + b"\r\nContent-Type: application/json\r\n",
                        b"GET /container.js HTTP/1.1\r\nHost: x\r\n"):  # the fast path's route too
            with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
                conn.sendall(request + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + smuggled)
                answer = b""
                while chunk := conn.recv(65536):  # the server must close: a timeout here fails the test
                    answer += chunk
            received.append(answer)
    finally:  # the server and its worker processes, whatever happened above
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
    for answer in received:
        assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 400 "), answer
        assert b'"status"' not in answer and b"text/javascript" not in answer, answer  # nothing ran

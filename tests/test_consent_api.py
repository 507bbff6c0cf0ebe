"""POST /consent and GET /consent: signed choices, strict input, refusals as JSON 4xx."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from gateway.consent import COOKIE_NAME, ConsentSigner

from conftest import SECRET, STORE_ORIGIN

JSON = {"Content-Type": "application/json"}


def post(client, body, origin=STORE_ORIGIN, headers=JSON):
    return client.post("/consent", content=body if isinstance(body, (bytes, str)) else None,
                       json=None if isinstance(body, (bytes, str)) else body,
                       headers={**headers, **({"Origin": origin} if origin else {})})


def test_valid_choice_is_signed_and_set_as_cookie(client) -> None:
    response = post(client, {"categories": ["analytics"]})
    assert response.status_code == 200
    body = response.json()
    assert body["consent"]["categories"] == ["necessary", "analytics"]
    assert body["consent"]["policy_version"] == 1
    assert len(body["consent"]["id"]) == 32
    assert response.headers["access-control-allow-origin"] == STORE_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}={body['token']};") and "Max-Age=15552000" in cookie and "SameSite=lax" in cookie
    reading = client.get("/consent", headers={"X-Tag-Gateway-Consent": body["token"], "Origin": STORE_ORIGIN}).json()
    assert reading["consent"] == body["consent"] and reading["reason"] == "valid"
    assert body["consent"]["rule"] == "opt_in" and body["consent"]["action"] == "custom" and body["consent"]["gpc"] is False


def test_reject_all_still_records_necessary(client) -> None:
    assert post(client, {"categories": []}).json()["consent"]["categories"] == ["necessary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1.evil.example:80", "null", None])
def test_other_origins_are_refused(client, origin) -> None:
    response = post(client, {"categories": ["analytics"]}, origin=origin)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("body,code", [
    (b"{not json", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    (b'["analytics"]', "invalid_body"),
    (b'{"categories": "analytics"}', "invalid_body"),
    (b'{"categories": ["analytics"], "extra": 1}', "invalid_body"),
    (b'{"categories": [1]}', "invalid_body"),
    (b'{"categories": ["marketting"]}', "unknown_category"),
    (b'{"categories": ["analytics"], "pad": "' + b"x" * 3000 + b'"}', "body_too_large"),
])
def test_bad_bodies_get_400_json_and_store_nothing(client, body, code) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert "set-cookie" not in response.headers


def test_oversized_body_without_content_length_is_refused(client) -> None:
    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    response = client.post("/consent", content=chunks(), headers={**JSON, "Origin": STORE_ORIGIN})
    assert response.status_code == 400 and response.json()["error"]["code"] == "body_too_large"


def test_non_json_content_type_is_refused(client) -> None:
    response = post(client, b'{"categories": []}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"


def test_preflight_is_answered_and_the_request_decides(client) -> None:
    ok = client.options("/consent", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "X-Tag-Gateway-Consent" in ok.headers["access-control-allow-headers"]
    # Another origin's preflight passes, but its request is refused with a message it can read.
    refused = post(client, {"categories": ["analytics"]}, origin="https://evil.example")
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert refused.headers["access-control-allow-origin"] == "https://evil.example"
    assert "https://evil.example is not in site.allowed_origins" in refused.json()["error"]["message"]


def read(client, token):
    return client.get("/consent", headers={"X-Tag-Gateway-Consent": token}).json()


def no_choice(reading: dict) -> str:
    """The reason a reading holds no choice (and assert it holds none)."""
    assert reading["consent"] is None, reading
    return reading["reason"]


def test_tampered_token_reads_as_no_choice(client) -> None:
    token = post(client, {"categories": ["analytics", "marketing"]}).json()["token"]
    payload, timestamp, signature = token.split(".")
    # Change the first character: the last one of a base64 signature carries unused bits.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert no_choice(read(client, f"{payload}.{timestamp}.{flipped}")) == "invalid"
    forged = ConsentSigner("another-secret-" + "y" * 40).issue(("necessary", "marketing"), 1)[0]
    assert read(client, forged)["reason"] == "invalid"
    assert read(client, payload)["reason"] == "invalid"  # unsigned
    client.cookies.clear()
    assert read(client, "")["reason"] == "missing"


def test_expired_token_reads_as_no_choice(client, monkeypatch) -> None:
    token = post(client, {"categories": ["analytics"]}).json()["token"]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 181 * 86400)
    assert no_choice(read(client, token)) == "expired"


def test_token_for_an_older_policy_version_reads_as_no_choice(client, live, config_dir) -> None:
    token = post(client, {"categories": ["analytics"]}).json()["token"]
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("policy_version: 1", "policy_version: 2"))
    assert live.reload_if_changed()
    assert no_choice(read(client, token)) == "outdated_policy"
    # Lowering it again does not revive a token signed for version 2.
    token2 = post(client, {"categories": ["analytics"]}).json()["token"]
    site.write_text(site.read_text().replace("policy_version: 2", "policy_version: 1"))
    assert live.reload_if_changed()
    assert no_choice(read(client, token2)) == "outdated_policy"


def test_cookie_is_read_when_no_header_is_sent(client) -> None:
    post(client, {"categories": ["marketing"]})  # the test client keeps the Set-Cookie
    assert client.get("/consent").json()["consent"]["categories"] == ["necessary", "marketing"]


def test_token_payload_is_signed_with_a_timestamp_signer() -> None:
    token, _ = ConsentSigner(SECRET).issue(("necessary",), 1)
    TimestampSigner(SECRET, salt="tag-gateway.consent.v1").unsign(token, max_age=60)  # raises if not

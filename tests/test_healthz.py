"""/healthz is public and shows counts only; the problems themselves need the admin token.

A symlinked leak.yaml -> /etc/passwd once put that file's lines into the public answer.
"""

from __future__ import annotations

import os

import pytest
from starlette.testclient import TestClient

from conftest import SECRET
from gateway.app import ADMIN_TOKEN_ENV, create_app

TOKEN = "admin-" + "0123456789abcdef" * 3


def bump_mtime(path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def degraded(live, config_dir):
    """A live config whose last edit was broken, quoting a secret-looking line."""
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text() + "\nroot-x-0-0-SECRET-LINE: /root:/bin/bash\n")  # quoted as an unknown key
    bump_mtime(tags)
    assert live.reload_if_changed() is False and live.last_error is not None
    return live


def app_client(live, consent_log) -> TestClient:
    return TestClient(create_app(live, SECRET, consent_log, watch=False), base_url="http://gateway.test")


def test_public_health_shows_counts_only(degraded, consent_log, config_dir) -> None:
    with app_client(degraded, consent_log) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "degraded", "tags": 10, "config_problems": len(degraded.last_error.problems),
                    "container_etag": degraded.current.container.etag}
    assert "SECRET-LINE" not in response.text and str(config_dir) not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_healthy_config_says_ok_with_no_problems(live, consent_log) -> None:
    with app_client(live, consent_log) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/healthz").json()["config_problems"] == 0


def test_details_are_off_without_an_admin_token(degraded, consent_log, monkeypatch) -> None:
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    with app_client(degraded, consent_log) as client:
        response = client.get("/healthz/details", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert ADMIN_TOKEN_ENV in response.json()["error"]["message"] and "SECRET-LINE" not in response.text


def test_a_short_admin_token_keeps_the_details_off(degraded, consent_log, monkeypatch) -> None:
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "short")
    with app_client(degraded, consent_log) as client:
        assert client.get("/healthz/details", headers={"Authorization": "Bearer short"}).status_code == 404


@pytest.mark.parametrize("authorization", [None, "", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}",
                                           TOKEN, "Bearer"])
def test_details_need_the_exact_token(degraded, consent_log, monkeypatch, authorization) -> None:
    monkeypatch.setenv(ADMIN_TOKEN_ENV, TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}
    with app_client(degraded, consent_log) as client:
        response = client.get("/healthz/details", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "SECRET-LINE" not in response.text


def test_details_with_the_token_list_every_problem(degraded, consent_log, monkeypatch, config_dir) -> None:
    monkeypatch.setenv(ADMIN_TOKEN_ENV, TOKEN)
    with app_client(degraded, consent_log) as client:
        response = client.get("/healthz/details", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["config_dir"] == str(config_dir)
    assert body["config_errors"] == [str(p) for p in degraded.last_error.problems]
    assert any("tags.yaml" in line and "SECRET-LINE" in line for line in body["config_errors"])
    assert response.headers["cache-control"] == "no-store"

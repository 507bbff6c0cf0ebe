"""`gateway serve --store DIR` serves the store's pages, never dotfiles, and never a folder holding the secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import ROOT, SECRET
from gateway.app import create_app


@pytest.fixture
def store(tmp_path: Path) -> Path:
    shop = tmp_path / "shop"
    (shop / ".git").mkdir(parents=True)
    (shop / "sub" / ".hidden").mkdir(parents=True)
    (shop / "index.html").write_text("<h1>shop</h1>")
    (shop / "sub" / "page.html").write_text("page")
    (shop / ".tag-gateway-secret").write_text("the-signing-secret")
    (shop / ".env").write_text("PASSWORD=x")
    (shop / ".git" / "config").write_text("[core]")
    (shop / ".git" / "index.html").write_text("inside a dot-directory")
    (shop / "sub" / ".hidden" / "index.html").write_text("inside a dot-directory")
    return shop


@pytest.fixture
def store_client(live, consent_log, store):
    with TestClient(create_app(live, SECRET, consent_log, store_dir=store, watch=False),
                    base_url="http://gateway.test") as client:
        yield client


def test_pages_are_served(store_client) -> None:
    assert store_client.get("/").text == "<h1>shop</h1>"
    assert store_client.get("/sub/page.html").text == "page"


@pytest.mark.parametrize("path", ["/.tag-gateway-secret", "/.env", "/.git/config", "/.git/", "/.git/index.html",
                                  "/sub/.hidden/", "/sub/.hidden/index.html", "/%2eenv", "/sub/../.env",
                                  "/.git/../.env"])
def test_dotfiles_and_dot_directories_are_never_served(store_client, path) -> None:
    response = store_client.get(path)
    assert response.status_code == 404, (path, response.text)
    assert "secret" not in response.text and "PASSWORD" not in response.text and "dot-directory" not in response.text


def serve(store: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`gateway serve --store` as far as its start-up checks (a refusal exits at once)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("TAG_GATEWAY_SECRET", "DATABASE_URL",
                                                                    "TAG_GATEWAY_SECRET_FILE")}
    return subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(ROOT / "tag_configs"),
                           "--store", str(store), "--port", "9"], cwd=cwd, env={**environment, **env},
                          capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_store_folder_holding_the_secret_file(tmp_path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    done = serve(Path("."), cwd=shop, DATABASE_URL=f"sqlite:///{tmp_path / 'log.sqlite3'}")  # --store .
    assert done.returncode == 1, done.stderr
    assert "not starting: --store . contains .tag-gateway-secret (the consent-signing secret)" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_a_store_folder_holding_the_consent_log(tmp_path) -> None:
    import secrets

    shop = tmp_path / "shop"
    shop.mkdir()
    done = serve(shop, cwd=tmp_path, TAG_GATEWAY_SECRET=secrets.token_hex(32),
                 DATABASE_URL=f"sqlite:///{shop / 'data' / 'consents.sqlite3'}")
    assert done.returncode == 1, done.stderr
    assert f"contains {shop / 'data' / 'consents.sqlite3'} (the consent log)" in done.stderr


def test_store_outside_the_secret_and_log_passes_the_check(tmp_path, monkeypatch) -> None:
    from gateway.static_files import store_is_safe

    shop = tmp_path / "shop"
    shop.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAG_GATEWAY_SECRET", raising=False)
    monkeypatch.delenv("TAG_GATEWAY_SECRET_FILE", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://gateway@db.example/consents")
    assert store_is_safe(shop)
    assert not store_is_safe(tmp_path)  # the secret would be created in the working directory

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.live_config import LiveConfig

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "samples"
SECRET = "test-secret-" + "x" * 40
STORE_ORIGIN = "http://127.0.0.1:5173"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the example store's config that a test may edit."""
    target = tmp_path / "tag_configs"
    shutil.copytree(ROOT / "tag_configs", target)
    return target


@pytest.fixture
def live(config_dir: Path) -> LiveConfig:
    return LiveConfig.load(config_dir)


@pytest.fixture
def client(live: LiveConfig) -> TestClient:
    with TestClient(create_app(live, SECRET, watch=False), base_url="http://gateway.test") as test_client:
        yield test_client

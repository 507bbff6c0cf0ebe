from __future__ import annotations

import asyncio
import os
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


@pytest.fixture(scope="session", autouse=True)
def rate_limit_files_in_this_runs_folder(tmp_path_factory):
    """The gateways these tests make (here or as subprocesses) keep their rate limit's file in a folder of this
    run, which pytest removes with its old runs, instead of one file per gateway left in the shared temp
    directory (thousands a day): gateway.rate_limit.default_path reads RUNTIME_DIRECTORY, as under systemd."""
    previous = os.environ.get("RUNTIME_DIRECTORY")
    os.environ["RUNTIME_DIRECTORY"] = str(tmp_path_factory.mktemp("runtime"))
    yield
    if previous is None:
        os.environ.pop("RUNTIME_DIRECTORY", None)
    else:
        os.environ["RUNTIME_DIRECTORY"] = previous


@pytest.fixture(autouse=True)
def no_event_loop_left_running_by_the_browser_tests():
    """Let asyncio.run() start in these tests even after e2e tests ran in the same process.

    Playwright's sync API (e2e/conftest.py keeps one for the session) leaves its event loop marked as
    running in the main thread between calls, and asyncio.run() refuses to start under a running loop.
    `./dev test` runs tests/ before e2e/ in each worker, but `pytest e2e tests`, or a worker given
    files in another order, must not fail for that. The mark is put back for the browser tests after."""
    left_running = asyncio._get_running_loop()
    if left_running is None:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left_running)


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
def consent_log(tmp_path: Path):
    """The consent log the app writes to: a SQLite file of this test's own."""
    from gateway.store import ConsentLog

    with ConsentLog.open(f"sqlite:///{tmp_path / 'consents.sqlite3'}") as log:
        yield log


@pytest.fixture
def client(live: LiveConfig, consent_log) -> TestClient:
    with TestClient(create_app(live, SECRET, consent_log, watch=False), base_url="http://gateway.test") as test_client:
        yield test_client


# -- the consent log: SQLite and a real PostgreSQL server (tests/postgres.py) ---------------------

@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of its own for the session; FAILS without PostgreSQL unless the opt-out is set."""
    import postgres

    if os.environ.get(postgres.OPT_OUT) == "1":
        pytest.skip(f"{postgres.OPT_OUT}=1: the PostgreSQL half of the consent log tests is skipped")
    try:
        server = postgres.start_server()
    except postgres.PostgresUnavailable as error:
        problem = str(error)
    else:
        problem = None
    if problem:
        pytest.fail(f"PostgreSQL: {problem}", pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's server (postgresql:// as a platform hands it out)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    if postgres_server.started:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    """The consent log's DATABASE_URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'consents.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_decision():
    """Build a gateway.store.Decision: complete, valid defaults; keyword arguments override."""
    from datetime import datetime, timezone

    from gateway.store import Decision

    def make(**overrides):
        values = dict(consent_id="c0ffee00c0ffee00c0ffee00c0ffee00", decided_at=datetime.now(timezone.utc),
                      action="accept_all", categories=("necessary", "analytics", "marketing"),
                      offered=("necessary", "analytics", "marketing"), region="DE", rule="opt_in", gpc=False,
                      policy_version=1, container_version='"c-1a2b3c"',
                      banner_texts={"title": "Your privacy choices", "accept_all": "Accept all",
                                    "reject_all": "Reject all"},
                      language="en", ip="203.0.113.77", user_agent="Mozilla/5.0 (X11; Linux x86_64) Test/1.0")
        values.update(overrides)
        return Decision(**values)

    return make

"""Fixtures for the end-to-end tests: a real Chromium, the real gateway, offline vendors.

See support.py for how vendor requests are recorded and answered.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from .support import (
    CHROMIUM_ARGS,
    DEFAULT_CONFIG_DIR,
    STORE_DIR,
    GatewayServer,
    Shop,
    VendorRecorder,
    find_chromium,
    new_recorded_context,
)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    executable = find_chromium(playwright_session)
    browser = playwright_session.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayServer]:
    """The gateway with the repository's example config and the example store."""
    server = GatewayServer(DEFAULT_CONFIG_DIR).start()
    yield server
    server.stop()


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., GatewayServer]]:
    """Start another gateway, e.g. on a config directory the test wrote to tmp_path.

    Usage: ``server = gateway_factory(tmp_path / "configs")``; it is stopped after the test.
    """
    started: list[GatewayServer] = []

    def start(config_dir: Path = DEFAULT_CONFIG_DIR, store_dir: Path = STORE_DIR, *extra_args: str) -> GatewayServer:
        server = GatewayServer(config_dir, store_dir, tuple(extra_args))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def context_and_recorder(browser: Browser) -> Iterator[tuple[BrowserContext, VendorRecorder]]:
    context, recorder = new_recorded_context(browser)
    yield context, recorder
    context.close()


@pytest.fixture
def context(context_and_recorder) -> BrowserContext:
    return context_and_recorder[0]


@pytest.fixture
def recorder(context_and_recorder) -> VendorRecorder:
    """Every non-local request of this test's browser context (answered offline)."""
    return context_and_recorder[1]


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def shop(page: Page, gateway: GatewayServer, recorder: VendorRecorder) -> Shop:
    """The example store, served by the default gateway, in this test's tab."""
    return Shop(page, gateway.url, recorder)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of the tests' own (tests/postgres.py), for gateways with a PostgreSQL consent log.

    FAILS without PostgreSQL (./dev test installs Debian's), unless the documented opt-out is set.
    """
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import postgres

    if os.environ.get(postgres.OPT_OUT) == "1":
        pytest.skip(f"{postgres.OPT_OUT}=1: the PostgreSQL tests are skipped")
    try:
        server = postgres.start_server()
    except postgres.PostgresUnavailable as error:
        pytest.fail(f"PostgreSQL: {error}", pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture
def postgres_gateway(postgres_server, gateway_factory) -> GatewayServer:
    """The example store's gateway with its consent log on a fresh PostgreSQL database."""
    server = GatewayServer(DEFAULT_CONFIG_DIR, STORE_DIR, database_url=postgres_server.url(postgres_server.create_database()))
    yield server.start()
    server.stop()

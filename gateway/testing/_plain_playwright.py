"""`playwright`, `browser`, `browser_context_args`, `context` and `page` for people without pytest-playwright
(registered by gateway.pytest_plugin only then). Same names and roles as pytest-playwright's."""

from __future__ import annotations

from typing import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from gateway.testing.browser import VIEWPORT, ChromiumNotFound, launch_chromium


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    try:
        launched = launch_chromium(playwright)
    except ChromiumNotFound as error:
        pytest.fail(str(error), pytrace=False)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    """Override to pass options to every context, e.g. gateway.testing.context_options(region="US-CA")."""
    return {}


@pytest.fixture
def context(browser: Browser, browser_context_args: dict) -> Iterator[BrowserContext]:
    created = browser.new_context(**{"viewport": VIEWPORT, **browser_context_args})
    yield created
    created.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()

"""What the end-to-end tests need beyond the testing kit (fixtures are in conftest.py).

The recorder, the decoders, the vendor stand-ins, the browser choice and the consent helpers are the
testing kit's (gateway/testing/, the same kit a store uses: this suite is its first user); they are
re-exported here under their old names. What stays here is this repository's own: the gateway as a
subprocess on the example store (GatewayServer), the Shop page object and the example config's ids.

Nothing leaves the machine: every request to a host other than 127.0.0.1/localhost is answered by the
kit's :class:`VendorRecorder` on each browser context, which records it and serves the stand-ins from
``gateway/testing/stubs/``. Tests assert as a store's tests do, through the kit: ``recorder.assert_fired(
"meta-purchase", once=True, value=59.9)``, ``recorder.assert_silent()`` (``categories=["marketing"]``),
``recorder.events()``, and make choices with ``gateway.testing.accept_all/reject_all/choose/withdraw/
opt_out/visit_as``. The per-vendor raw views (``recorder.ga4()``, ``meta()``, ``tiktok()``...) are for the
tests of the wire format itself (test_vendor_stubs.py). As a second safety net Chromium resolves every
other host name to NOTFOUND.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from gateway.testing import browser as _kit_browser
from gateway.testing.browser import CHROMIUM_ARGS, VIEWPORT, ChromiumNotFound
from gateway.testing.decode import Hit, RecordedRequest  # noqa: F401  (re-exported)
from gateway.testing.recorder import (  # noqa: F401  (re-exported)
    AUTOMATIC_HITS_WAIT_MS, GA4_HOST_SUFFIX, LOCAL_HOSTS, PIXEL_GIF, STUBS_DIR, VENDOR_HOST_SUFFIXES, VendorRecorder,
)
from gateway.testing import recorder as _kit_recorder

REPO = Path(__file__).resolve().parents[1]
E2E_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_DIR = REPO / "tag_configs"
STORE_DIR = REPO / "example_store"

# Ids from the example config in tag_configs/.
GA4_ID = "G-EXAMPLE123"
META_PIXEL_ID = "1234567890"
TIKTOK_PIXEL_ID = "CEXAMPLE0TIKTOK00001"
ADS_CONVERSION_PATH = "/pagead/conversion/987654321/"
ADS_CONVERSION_LABEL = "AbC-dEfGhIjK"

# What the first-layer banner and the preferences dialog are called.
BANNER_TITLE = "Your privacy choices"
PREFERENCES_TITLE = "Privacy preferences"


# --------------------------------------------------------------------------- browser


def find_chromium(playwright: Playwright) -> str | None:
    """The kit's find_chromium; no Chromium fails the test with how to get one (never a skip)."""
    try:
        return _kit_browser.find_chromium(playwright)
    except ChromiumNotFound as error:
        pytest.fail(str(error), pytrace=False)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str


def http_request(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None, timeout: float = 5.0
) -> HttpResponse:
    """A plain HTTP request with the standard library (non-2xx answers are returned, not raised)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw_headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, raw_headers, body = error.code, error.headers, error.read()
    return HttpResponse(status, {k.lower(): v for k, v in raw_headers.items()}, body.decode("utf-8", "replace"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayServer:
    """`python -m gateway serve` as a subprocess on a free port."""

    def __init__(self, config_dir: Path, store_dir: Path = STORE_DIR, extra_args: tuple[str, ...] = (),
                 database_url: str | None = None, env: dict[str, str] | None = None):
        self.config_dir = Path(config_dir)
        self.env = dict(env or {})  # on top of this process's environment
        self.store_dir = Path(store_dir)
        self.extra_args = extra_args
        # The consent log: a SQLite file of this server's own unless a test passes another URL.
        self._scratch = tempfile.TemporaryDirectory(prefix="tag-gateway-e2e-")
        self.database_url = database_url or f"sqlite:///{self._scratch.name}/consents.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(32)
        self._log = tempfile.TemporaryFile(mode="w+b")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "GatewayServer":
        cmd = [
            sys.executable, "-m", "gateway", "serve",
            "--config", str(self.config_dir),
            "--store", str(self.store_dir),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            # One worker unless a test asks for more: workers pick up config edits independently,
            # up to a second apart, which tests that edit the config and then reload a page would
            # race. Several workers are tested in tests/test_serving.py and tests/test_reliability.py.
            *(() if "--workers" in self.extra_args else ("--workers", "1")),
            *self.extra_args,
        ]
        # RUNTIME_DIRECTORY: the rate limit's file goes into this server's scratch folder, removed with it, not
        # into the shared temp directory (one file per test gateway otherwise, thousands a day).
        env = dict(os.environ, RUNTIME_DIRECTORY=self._scratch.name, **self.env, TAG_GATEWAY_SECRET=self.secret,
                   PYTHONUNBUFFERED="1", DATABASE_URL=self.database_url)
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"gateway exited with code {self.proc.returncode} before it was healthy.\n"
                    f"command: {' '.join(cmd)}\noutput:\n{self.output()}",
                    pytrace=False,
                )
            try:
                response = http_request("GET", self.url + "/healthz", timeout=1.0)
                if response.status == 200:
                    return self
                last_error = f"GET /healthz -> {response.status}"
            except OSError as exc:
                last_error = repr(exc)
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"gateway not healthy after {timeout:.0f}s ({last_error}).\n"
            f"command: {' '.join(cmd)}\noutput:\n{self.output()}",
            pytrace=False,
        )

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-8000:]

    def consents(self, *args: str) -> subprocess.CompletedProcess:
        """`gateway consents ARGS` against this server's consent log, as a store owner would run it."""
        env = dict(os.environ, DATABASE_URL=self.database_url)
        return subprocess.run([sys.executable, "-m", "gateway", "consents", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# Counts the container's `tag-gateway:consent` events so a test can wait for "a new choice
# was made" (the state alone does not change when a visitor changes an earlier choice).
COUNT_CONSENT_EVENTS = """
window.__e2eConsentEvents = 0;
window.addEventListener('tag-gateway:consent', function () { window.__e2eConsentEvents += 1; });
"""


def new_recorded_context(
    browser: Browser, tiktok_sdk: str = "legacy", **options
) -> tuple[BrowserContext, VendorRecorder]:
    """A browser context whose non-local requests a new VendorRecorder records (see its tiktok_sdk);
    the recorder names tags from the example config (tag_configs/)."""
    context, recorder = _kit_recorder.new_recorded_context(
        browser, tiktok_sdk=tiktok_sdk, config=DEFAULT_CONFIG_DIR, **options)
    context.add_init_script(COUNT_CONSENT_EVENTS)
    return context, recorder


class Shop:
    """The example store in one browser tab, with the consent banner's controls."""

    def __init__(self, page: Page, base_url: str, recorder: VendorRecorder):
        self.page = page
        self.base_url = base_url
        self.recorder = recorder

    def open(self, path: str = "/") -> "Shop":
        self.page.goto(self.base_url + path)
        self.wait_ready()
        return self

    def reload(self) -> "Shop":
        self.page.reload()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Wait until the container ran and finished checking a stored choice."""
        self.page.wait_for_function(
            "() => window.tagGateway && window.tagGateway.state && window.tagGateway.state !== 'loading'"
        )

    def state(self) -> str:
        return self.page.evaluate("() => window.tagGateway.state")

    def consent(self) -> dict | None:
        return self.page.evaluate("() => window.tagGateway.consent")

    @property
    def banner(self):
        return self.page.get_by_role("dialog", name=BANNER_TITLE)

    @property
    def preferences(self):
        return self.page.get_by_role("dialog", name=PREFERENCES_TITLE)

    def button(self, dialog, name: str):
        return dialog.get_by_role("button", name=name, exact=True)

    def consent_events(self) -> int:
        """How many `tag-gateway:consent` events this document has seen."""
        return self.page.evaluate("() => window.__e2eConsentEvents")

    def wait_for_new_choice(self, events_before: int) -> None:
        """Wait for the consent event of a choice just made, and for the decided state."""
        self.page.wait_for_function(
            "n => window.__e2eConsentEvents > n && window.tagGateway.state === 'decided'", arg=events_before
        )

    def save_preferences(self, **categories: bool) -> None:
        """Set the preference checkboxes by label (analytics=True, marketing=False) and save: for the tests
        about the preferences dialog itself (others choose with the kit's choose()/withdraw())."""
        dialog = self.preferences
        dialog.wait_for(state="visible")
        for name, wanted in categories.items():
            dialog.get_by_role("checkbox", name=name.capitalize(), exact=True).set_checked(wanted)
        before = self.consent_events()
        self.button(dialog, "Save choices").click()
        self.wait_for_new_choice(before)
        dialog.wait_for(state="hidden")

    def settle(self) -> None:
        self.recorder.settle(self.page)


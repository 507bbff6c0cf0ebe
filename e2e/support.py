"""Helpers shared by the end-to-end tests (fixtures are in conftest.py).

The tests drive a real Chromium (through Playwright's sync API) against the real
tag-gateway server, started as a subprocess on a free port. Nothing leaves the machine:
every request to a host other than 127.0.0.1/localhost is answered by the
:class:`VendorRecorder` installed on each browser context, which records it (so the
tests can assert on what a vendor would receive) and serves small stand-ins for the
vendor libraries from ``e2e/vendor_stubs/``. As a second safety net Chromium resolves
every other host name to NOTFOUND.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route

REPO = Path(__file__).resolve().parents[1]
E2E_DIR = Path(__file__).resolve().parent
STUBS_DIR = E2E_DIR / "vendor_stubs"
DEFAULT_CONFIG_DIR = REPO / "tag_configs"
STORE_DIR = REPO / "example_store"

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

# 1x1 transparent GIF, the usual answer of an image pixel endpoint.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)

VIEWPORT = {"width": 1280, "height": 800}

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
    """Return the Chromium to use; None means Playwright's own download is installed."""
    try:
        bundled = playwright.chromium.executable_path
    except Exception:  # pragma: no cover - depends on the Playwright version
        bundled = ""
    if bundled and Path(bundled).exists():
        return None
    from_env = os.environ.get("CHROMIUM_EXECUTABLE")
    if from_env:
        if not Path(from_env).exists():
            pytest.fail(f"CHROMIUM_EXECUTABLE={from_env} does not exist", pytrace=False)
        return from_env
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "No Chromium found for the e2e tests. Install one with "
        "`apt-get install -y chromium` (Debian/Ubuntu), or `python -m playwright install chromium`, "
        "or point CHROMIUM_EXECUTABLE at a Chromium/Chrome binary.",
        pytrace=False,
    )


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

    def __init__(self, config_dir: Path, store_dir: Path = STORE_DIR, extra_args: tuple[str, ...] = ()):
        self.config_dir = Path(config_dir)
        self.store_dir = Path(store_dir)
        self.extra_args = extra_args
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
            *self.extra_args,
        ]
        env = dict(os.environ, TAG_GATEWAY_SECRET=self.secret, PYTHONUNBUFFERED="1")
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

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@dataclass
class RecordedRequest:
    method: str
    url: str
    resource_type: str
    post_data: str | None
    host: str = field(init=False)
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.host = parts.hostname or ""
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, first value of each, percent-decoded."""
        return {key: values[0] for key, values in self.query.items()}

    def json(self) -> dict:
        return json.loads(self.post_data or "null")

    def __repr__(self) -> str:  # short form for assertion messages
        body = f" body={self.post_data[:300]!r}" if self.post_data else ""
        return f"<{self.method} {self.url}{body}>"


class VendorRecorder:
    """Records every non-local request of a browser context and answers it offline."""

    LIBRARIES = {
        # (host, path) -> stub file standing in for the vendor's library
        ("connect.facebook.net", "/en_US/fbevents.js"): "fbevents.js",
        ("www.googletagmanager.com", "/gtag/js"): "gtag.js",
        ("analytics.tiktok.com", "/i18n/pixel/events.js"): "tiktok_events.js",
    }

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._stubs = {key: (STUBS_DIR / name).read_text() for key, name in self.LIBRARIES.items()}
        self._started = 0
        self._done = 0

    # -- wiring

    def attach(self, context: BrowserContext) -> None:
        context.route("**/*", self._handle)
        context.on("request", self._on_request)
        context.on("requestfinished", self._on_request_done)
        context.on("requestfailed", self._on_request_done)

    @staticmethod
    def is_local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob") or (parts.hostname or "") in LOCAL_HOSTS

    def _on_request(self, request) -> None:
        self._started += 1

    def _on_request_done(self, request) -> None:
        self._done += 1

    def _handle(self, route: Route) -> None:
        request = route.request
        if self.is_local(request.url):
            route.continue_()
            return
        recorded = RecordedRequest(
            method=request.method,
            url=request.url,
            resource_type=request.resource_type,
            post_data=request.post_data,
        )
        self.requests.append(recorded)
        stub = self._stubs.get((recorded.host, recorded.path))
        if stub is not None:
            route.fulfill(status=200, content_type="application/javascript; charset=utf-8", body=stub)
        elif request.resource_type == "image":
            route.fulfill(status=200, content_type="image/gif", body=PIXEL_GIF)
        else:
            route.fulfill(status=204, headers={"Access-Control-Allow-Origin": "*"})

    # -- queries

    def pixels(self, host_substring: str) -> list[RecordedRequest]:
        return [r for r in self.requests if host_substring in r.host]

    def libraries(self) -> list[RecordedRequest]:
        return [r for r in self.requests if (r.host, r.path) in self.LIBRARIES]

    def library(self, host: str) -> list[RecordedRequest]:
        return [r for r in self.libraries() if r.host == host]

    def ga4(self, event: str | None = None) -> list[RecordedRequest]:
        hits = [r for r in self.requests if r.host.endswith("google-analytics.com") and r.path == "/g/collect"]
        return [r for r in hits if event is None or r.params.get("en") == event]

    def meta(self, event: str | None = None) -> list[RecordedRequest]:
        hits = [r for r in self.requests if r.host == "www.facebook.com" and r.path.rstrip("/") == "/tr"]
        return [r for r in hits if event is None or r.params.get("ev") == event]

    def tiktok(self, event: str | None = None) -> list[RecordedRequest]:
        hits = [r for r in self.requests if r.host == "analytics.tiktok.com" and r.path == "/api/v2/pixel"]
        return [r for r in hits if event is None or r.json().get("event") == event]

    def ads_conversions(self) -> list[RecordedRequest]:
        return [
            r for r in self.requests
            if r.host == "www.googleadservices.com" and r.path.startswith("/pagead/conversion/")
        ]

    def clear(self) -> None:
        self.requests.clear()

    def describe(self) -> str:
        return "\n".join(repr(r) for r in self.requests) or "(no non-local requests)"

    # -- waiting

    def settle(self, page: Page, quiet_ms: int = 500, timeout_ms: int = 8000) -> None:
        """Wait until the page made no request for `quiet_ms` and none is in flight.

        Use before asserting that something did NOT happen.
        """
        try:
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
        except Exception:
            pass
        deadline = time.monotonic() + timeout_ms / 1000
        last_seen = (-1, -1)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)
            seen = (self._started, len(self.requests))
            in_flight = self._started > self._done
            if seen != last_seen or in_flight:
                last_seen = seen
                quiet_since = time.monotonic()
            elif (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return

    def wait_for(self, page: Page, what: Callable[[], list], count: int = 1, timeout_ms: int = 8000) -> list:
        """Wait until `what()` returns at least `count` requests; return them."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            found = what()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected at least {count} matching request(s), got {len(found)}.\n"
                    f"Recorded non-local requests:\n{self.describe()}"
                )
            page.wait_for_timeout(50)


# Counts the container's `tag-gateway:consent` events so a test can wait for "a new choice
# was made" (the state alone does not change when a visitor changes an earlier choice).
COUNT_CONSENT_EVENTS = """
window.__e2eConsentEvents = 0;
window.addEventListener('tag-gateway:consent', function () { window.__e2eConsentEvents += 1; });
"""


def new_recorded_context(browser: Browser, **options) -> tuple[BrowserContext, VendorRecorder]:
    options.setdefault("viewport", VIEWPORT)
    context = browser.new_context(**options)
    context.add_init_script(COUNT_CONSENT_EVENTS)
    recorder = VendorRecorder()
    recorder.attach(context)
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

    def accept_all(self) -> None:
        before = self.consent_events()
        self.button(self.banner, "Accept all").click()
        self.wait_for_new_choice(before)

    def reject_all(self) -> None:
        before = self.consent_events()
        self.button(self.banner, "Reject all").click()
        self.wait_for_new_choice(before)

    def save_preferences(self, **categories: bool) -> None:
        """Set the preference checkboxes by label (analytics=True, marketing=False) and save."""
        dialog = self.preferences
        dialog.wait_for(state="visible")
        for name, wanted in categories.items():
            dialog.get_by_role("checkbox", name=name.capitalize(), exact=True).set_checked(wanted)
        before = self.consent_events()
        self.button(dialog, "Save choices").click()
        self.wait_for_new_choice(before)
        dialog.wait_for(state="hidden")

    def customize(self, **categories: bool) -> None:
        self.button(self.banner, "Customize").click()
        self.save_preferences(**categories)

    def settle(self) -> None:
        self.recorder.settle(self.page)


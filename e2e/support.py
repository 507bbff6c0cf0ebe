"""Helpers shared by the end-to-end tests (fixtures are in conftest.py).

The tests drive a real Chromium (through Playwright's sync API) against the real
tag-gateway server, started as a subprocess on a free port. Nothing leaves the machine:
every request to a host other than 127.0.0.1/localhost is answered by the
:class:`VendorRecorder` installed on each browser context, which records it (so the
tests can assert on what a vendor would receive) and serves stand-ins for the vendor
libraries from ``e2e/vendor_stubs/``. The stand-ins behave like the real libraries where
it matters to consent (batched GA4 hits and a timed automatic scroll, Consent Mode gcs/gcd,
Meta's per-pixel config script, automatic button clicks and history PageViews, TikTok's
automatic Metadata/Click events, cookies): see each file's header. The recorder decodes
requests to one :class:`Hit` per vendor event (``recorder.ga4()``, ``meta()``, ``tiktok()``,
``tiktok_act()``, ``ads_conversions()``, ``ads_remarketing()``); ``vendor_requests()`` is
everything sent to a vendor host. Before asserting that nothing (more) left the page, call
``recorder.wait_past_automatic_hits(page)``. As a second safety net Chromium resolves every
other host name to NOTFOUND.
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
from email import policy as email_policy
from email.parser import BytesParser
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

    def __init__(self, config_dir: Path, store_dir: Path = STORE_DIR, extra_args: tuple[str, ...] = (),
                 database_url: str | None = None):
        self.config_dir = Path(config_dir)
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
            *self.extra_args,
        ]
        env = dict(os.environ, TAG_GATEWAY_SECRET=self.secret, PYTHONUNBUFFERED="1", DATABASE_URL=self.database_url)
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


def _first_values(query: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in query.items()}


def _parse_form(text: str) -> dict[str, str]:
    return _first_values(parse_qs(text, keep_blank_values=True))


def _decode_multipart(body: bytes, content_type: str) -> dict[str, str]:
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_content() if part.get_content_type().startswith("text/") else ""
    return fields


@dataclass
class RecordedRequest:
    """One request that tried to leave the page, as the vendor's server would have received it."""

    method: str
    url: str
    resource_type: str
    body: bytes | None = None
    content_type: str = ""
    time: float = field(default_factory=time.monotonic)  # time.monotonic() when it was intercepted
    host: str = field(init=False)
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.host = parts.hostname or ""
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)

    @property
    def post_data(self) -> str | None:
        """The body as text (sendBeacon Blobs included), or None without a body."""
        return None if self.body is None else self.body.decode("utf-8", "replace")

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, first value of each, percent-decoded."""
        return _first_values(self.query)

    def form(self) -> dict[str, str]:
        """The body's fields for a form-encoded (or multipart) body; {} otherwise."""
        text = self.post_data or ""
        if "multipart/form-data" in self.content_type.lower():
            return _decode_multipart(self.body or b"", self.content_type)
        if not text or text.lstrip().startswith(("{", "[")):
            return {}
        return _parse_form(text)

    def json(self):
        """The body parsed as JSON (also when sent as text/plain, as beacons are)."""
        return json.loads(self.post_data or "null")

    def body_lines(self) -> list[str]:
        return [line for line in (self.post_data or "").split("\n") if line.strip()]

    def __repr__(self) -> str:  # short form for assertion messages
        body = f" body={self.post_data[:300]!r}" if self.post_data else ""
        return f"<{self.method} {self.url}{body}>"


class Hit:
    """One vendor event decoded from a request: a GA4 batch holds several, a pixel GET one.

    `params` merges what the vendor would read for that event: the query string (a GA4 batch's shared
    parameters) and the event's own fields (its body line, form field or JSON). The raw request is
    `request`; url/host/path/query/method/time/resource_type are its own.
    """

    def __init__(self, request: RecordedRequest, params: dict[str, str], data=None, index: int = 0):
        self.request = request
        self.params = params
        self.data = data  # the decoded JSON body, for JSON beacons
        self.index = index  # position of the event in its request's batch

    def __getattr__(self, name):
        if name in ("url", "host", "path", "query", "method", "time", "resource_type", "body", "post_data", "content_type"):
            return getattr(self.request, name)
        raise AttributeError(name)

    @property
    def event(self) -> str | None:
        if isinstance(self.data, dict):
            return self.data.get("event")
        return self.params.get("en") or self.params.get("ev") or self.params.get("label")

    def json(self):
        return self.data

    def __eq__(self, other):
        if isinstance(other, Hit):
            return self.request is other.request and self.index == other.index
        return NotImplemented

    def __repr__(self) -> str:
        suffix = f" #{self.index}" if self.index else ""
        return f"<hit {self.event!r}{suffix} of {self.request!r}>"


# Hosts of the vendors the stand-ins imitate: anything to them is a "vendor request".
VENDOR_HOST_SUFFIXES = (
    "googletagmanager.com", "google-analytics.com", "analytics.google.com", "googleadservices.com",
    "doubleclick.net", "google.com", "facebook.com", "facebook.net", "tiktok.com", "tiktokw.us",
)

GA4_HOST_SUFFIX = "google-analytics.com"
# Long enough for every automatic hit of the stand-ins (GA4 scroll after 2.5 s, TikTok Metadata after 1 s).
AUTOMATIC_HITS_WAIT_MS = 3200


class VendorRecorder:
    """Records every non-local request of a browser context and answers it offline.

    It serves the vendor-library stand-ins of e2e/vendor_stubs/: gtag.js with the request's `l` data-layer
    name substituted (as Google's server does), fbevents.js and, per pixel, its
    /signals/config/<ID> script, and TikTok's events.js in the SDK generation chosen by `tiktok_sdk`
    ("legacy": 2.1.33 without consent methods, "consent": a newer SDK with hold/grant/revokeConsent; may
    be changed before a page loads the SDK).
    """

    LIBRARIES = {
        # (host, path) -> stub file standing in for the vendor's library
        ("connect.facebook.net", "/en_US/fbevents.js"): "fbevents.js",
        ("www.googletagmanager.com", "/gtag/js"): "gtag.js",
        ("analytics.tiktok.com", "/i18n/pixel/events.js"): "tiktok_events.js",
    }
    META_CONFIG_PREFIX = "/signals/config/"
    TIKTOK_SDKS = ("legacy", "consent")

    def __init__(self, tiktok_sdk: str = "legacy") -> None:
        self.requests: list[RecordedRequest] = []
        self._stubs = {key: (STUBS_DIR / name).read_text() for key, name in self.LIBRARIES.items()}
        self.tiktok_sdk = tiktok_sdk
        self._started = 0
        self._done = 0

    @property
    def tiktok_sdk(self) -> str:
        return self._tiktok_sdk

    @tiktok_sdk.setter
    def tiktok_sdk(self, value: str) -> None:
        if value not in self.TIKTOK_SDKS:
            raise ValueError(f"tiktok_sdk must be one of {self.TIKTOK_SDKS}, not {value!r}")
        self._tiktok_sdk = value

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

    def _stub_text(self, recorded: RecordedRequest) -> str | None:
        key = (recorded.host, recorded.path)
        stub = self._stubs.get(key)
        if stub is None:
            if recorded.host == "connect.facebook.net" and recorded.path.startswith(self.META_CONFIG_PREFIX):
                return self._meta_config_script(recorded.path[len(self.META_CONFIG_PREFIX):])
            return None
        if key == ("www.googletagmanager.com", "/gtag/js"):
            layer = recorded.params.get("l") or "dataLayer"
            return stub.replace("'__TG_STUB_DATA_LAYER__'", json.dumps(layer))
        if key == ("analytics.tiktok.com", "/i18n/pixel/events.js") and self.tiktok_sdk == "consent":
            marker = "var CONSENT_API = false;  // __TG_TIKTOK_CONSENT_API__"
            assert marker in stub, "tiktok_events.js lost its CONSENT_API marker"
            return stub.replace(marker, "var CONSENT_API = true;  // newer SDK, chosen by the recorder:")
        return stub

    @staticmethod
    def _meta_config_script(pixel_id: str) -> str:
        """What connect.facebook.net/signals/config/<ID> answers: hands the pixel's config to fbevents.js."""
        name = json.dumps("config:" + pixel_id)
        return (
            "(function(){var f=window.fbq;if(f&&f.registerPlugin)f.registerPlugin(" + name + ","
            "{__fbEventsPlugin:1,plugin:function(fbq,instance,config){"
            "config.set(" + json.dumps(pixel_id) + ",'automaticMatching',{selectedMatchKeys:[]});}});})();"
        )

    def _handle(self, route: Route) -> None:
        request = route.request
        if self.is_local(request.url):
            route.continue_()
            return
        try:
            body = request.post_data_buffer
        except Exception:  # pragma: no cover - a body Playwright cannot give
            body = None
        recorded = RecordedRequest(
            method=request.method,
            url=request.url,
            resource_type=request.resource_type,
            body=body,
            content_type=request.headers.get("content-type", ""),
        )
        self.requests.append(recorded)
        stub = self._stub_text(recorded)
        if stub is not None:
            route.fulfill(status=200, content_type="application/javascript; charset=utf-8", body=stub)
        elif request.resource_type == "image":
            route.fulfill(status=200, content_type="image/gif", body=PIXEL_GIF)
        else:
            route.fulfill(status=204, headers={"Access-Control-Allow-Origin": "*"})

    # -- raw queries

    def vendor_requests(self) -> list[RecordedRequest]:
        """Every recorded request to a vendor host: libraries, config scripts and beacons."""
        return [r for r in self.requests if r.host.endswith(VENDOR_HOST_SUFFIXES)]

    def pixels(self, host_substring: str) -> list[RecordedRequest]:
        return [r for r in self.requests if host_substring in r.host]

    def libraries(self) -> list[RecordedRequest]:
        return [r for r in self.requests if (r.host, r.path) in self.LIBRARIES]

    def library(self, host: str) -> list[RecordedRequest]:
        return [r for r in self.libraries() if r.host == host]

    def meta_configs(self, pixel_id: str | None = None) -> list[RecordedRequest]:
        """Requests for fbevents.js' per-pixel config scripts (connect.facebook.net/signals/config/<ID>)."""
        found = [
            r for r in self.requests
            if r.host == "connect.facebook.net" and r.path.startswith(self.META_CONFIG_PREFIX)
        ]
        return [r for r in found if pixel_id is None or r.path == self.META_CONFIG_PREFIX + pixel_id]

    # -- event-level queries

    def ga4_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.host.endswith(GA4_HOST_SUFFIX) and r.path == "/g/collect"]

    def ga4(self, event: str | None = None) -> list[Hit]:
        """One hit per GA4 event: a batch's shared query parameters merged with each body line."""
        hits = []
        for request in self.ga4_requests():
            shared = request.params
            lines = request.body_lines()
            if not lines:
                hits.append(Hit(request, dict(shared)))
            for i, line in enumerate(lines):
                hits.append(Hit(request, {**shared, **_parse_form(line)}, index=i))
        return [h for h in hits if event is None or h.params.get("en") == event]

    def meta(self, event: str | None = None) -> list[Hit]:
        """Meta pixel hits to facebook.com/tr, GET (query) or POST (form body)."""
        hits = []
        for r in self.requests:
            if r.host == "www.facebook.com" and r.path.rstrip("/") == "/tr":
                hits.append(Hit(r, {**r.params, **r.form()}))
        return [h for h in hits if event is None or h.params.get("ev") == event]

    def _tiktok(self, path: str, event: str | None) -> list[Hit]:
        hits = []
        for r in self.requests:
            if r.host == "analytics.tiktok.com" and r.path == path:
                data = r.json()
                hits.append(Hit(r, r.params, data=data))
        return [h for h in hits if event is None or (h.data or {}).get("event") == event]

    def tiktok(self, event: str | None = None) -> list[Hit]:
        """TikTok events (POST /api/v2/pixel); `.json()` is the decoded body."""
        return self._tiktok("/api/v2/pixel", event)

    def tiktok_act(self, event: str | None = None) -> list[Hit]:
        """TikTok's automatic events (POST /api/v2/pixel/act: Metadata, Click)."""
        return self._tiktok("/api/v2/pixel/act", event)

    def ads_conversions(self) -> list[Hit]:
        return [
            Hit(r, r.params) for r in self.requests
            if r.host == "www.googleadservices.com" and r.path.startswith("/pagead/conversion/")
        ]

    def ads_remarketing(self) -> list[Hit]:
        return [
            Hit(r, r.params) for r in self.requests
            if r.host.endswith("doubleclick.net") and r.path.startswith("/pagead/viewthroughconversion/")
        ]

    def clear(self) -> None:
        self.requests.clear()

    def describe(self) -> str:
        return "\n".join(repr(r) for r in self.requests) or "(no non-local requests)"

    # -- waiting

    def settle(self, page: Page, quiet_ms: int = 500, timeout_ms: int = 8000) -> None:
        """Wait until the page made no request for `quiet_ms` and none is in flight.

        Use before asserting that something did NOT happen (after wait_past_automatic_hits when the
        vendors' automatic hits matter).
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

    def wait_past_automatic_hits(self, page: Page, ms: int = AUTOMATIC_HITS_WAIT_MS) -> None:
        """Wait long enough for the stand-ins' timed automatic hits (GA4 scroll, TikTok Metadata), then settle.

        Call it after the last action of a test that asserts nothing (more) left the page.
        """
        page.wait_for_timeout(ms)
        self.settle(page)

    def wait_for(self, page: Page, what: Callable[[], list], count: int = 1, timeout_ms: int = 8000) -> list:
        """Wait until `what()` returns at least `count` requests or hits; return them."""
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


def new_recorded_context(
    browser: Browser, tiktok_sdk: str = "legacy", **options
) -> tuple[BrowserContext, VendorRecorder]:
    """A browser context whose non-local requests a new VendorRecorder records (see its tiktok_sdk)."""
    options.setdefault("viewport", VIEWPORT)
    context = browser.new_context(**options)
    context.add_init_script(COUNT_CONSENT_EVENTS)
    recorder = VendorRecorder(tiktok_sdk=tiktok_sdk)
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


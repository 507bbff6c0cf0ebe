"""The recorder: every third-party request of a browser context, recorded, answered offline and decoded.

Attach a :class:`VendorRecorder` to a Playwright context (or use the pytest plugin's ``tag_recorder``).
Every request to a host other than 127.0.0.1/localhost is recorded and never leaves the machine: vendor
libraries are answered by the stand-ins in ``gateway/testing/stubs/`` (or, with ``libraries="real"``,
let through to the vendor, to the test's own routes, or answered from ``library_files``), image beacons by
a 1x1 GIF, anything else by an empty 204. With the store's ``tag_configs/`` the recorder names the tag behind each event:
``recorder.assert_fired("meta-purchase", once=True, value=59.9)``, ``recorder.assert_silent()``.
"""

from __future__ import annotations

import json
import mimetypes
import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Route

from gateway.config import Config
from gateway.testing.browser import VIEWPORT
from gateway.testing.decode import Event, Hit, RecordedRequest, decode, ga4_hits, number
from gateway.testing.tags import TagMap

STUBS_DIR = Path(__file__).resolve().parent / "stubs"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

# 1x1 transparent GIF, the usual answer of an image pixel endpoint.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)

# Hosts of the vendors the stand-ins imitate: anything to them is a "vendor request".
VENDOR_HOST_SUFFIXES = (
    "googletagmanager.com", "google-analytics.com", "analytics.google.com", "googleadservices.com",
    "doubleclick.net", "google.com", "facebook.com", "facebook.net", "tiktok.com", "tiktokw.us",
    "pinterest.com", "pinimg.com", "snapchat.com", "sc-static.net",
    "bing.com", "licdn.com", "linkedin.com", "reddit.com", "redditstatic.com", "twitter.com", "ads-twitter.com", "t.co",
)

GA4_HOST_SUFFIX = "google-analytics.com"
# Long enough for every automatic hit of the stand-ins (GA4 scroll after 2.5 s, TikTok Metadata after 1 s).
AUTOMATIC_HITS_WAIT_MS = 3200

_ATTACHED: dict[int, "VendorRecorder"] = {}


def attached_recorder(context: BrowserContext) -> "VendorRecorder | None":
    """The recorder already attached to this context, if any."""
    return _ATTACHED.get(id(context))


class VendorRecorder:
    """Records every non-local request of a browser context and answers it offline.

    It serves the vendor-library stand-ins of gateway/testing/stubs/: gtag.js with the request's `l` data-layer
    name substituted (as Google's server does), fbevents.js and, per pixel, its
    /signals/config/<ID> script, Pinterest's core.js, Snap's scevent.min.js, Microsoft's bat.js, LinkedIn's
    insight.min.js, Reddit's pixel.js, X's uwt.js, and TikTok's events.js in the SDK generation chosen by `tiktok_sdk`
    ("legacy": 2.1.33 without consent methods, "consent": a newer SDK with hold/grant/revokeConsent; may
    be changed before a page loads the SDK).

    With ``libraries="real"`` the vendor libraries (and Meta's per-pixel config scripts) are recorded and
    then let through: to the vendor, or to a route the test registered on the context before attaching.
    ``library_files={url_pattern: path}`` answers library URLs matching a pattern (``fnmatch`` on the
    whole URL, e.g. ``"https://connect.facebook.net/*/fbevents.js"``) with a local file instead, e.g. a
    pinned copy of a vendor's library for an offline CI; a library no pattern matches still goes out.
    """

    LIBRARIES = {
        # (host, path) -> stub file standing in for the vendor's library
        ("connect.facebook.net", "/en_US/fbevents.js"): "fbevents.js",
        ("www.googletagmanager.com", "/gtag/js"): "gtag.js",
        ("analytics.tiktok.com", "/i18n/pixel/events.js"): "tiktok_events.js",
        ("s.pinimg.com", "/ct/core.js"): "pinterest_core.js",
        ("sc-static.net", "/scevent.min.js"): "scevent.js",
        ("bat.bing.com", "/bat.js"): "uet_bat.js",
        ("snap.licdn.com", "/li.lms-analytics/insight.min.js"): "linkedin_insight.js",
        ("www.redditstatic.com", "/ads/pixel.js"): "reddit_pixel.js",
        ("static.ads-twitter.com", "/uwt.js"): "twitter_uwt.js",
    }
    META_CONFIG_PREFIX = "/signals/config/"
    TIKTOK_SDKS = ("legacy", "consent")
    LIBRARY_MODES = ("stubs", "real")

    def __init__(self, tiktok_sdk: str = "legacy", config: str | Path | Config | None = None,
                 libraries: str = "stubs", library_files: Mapping[str, str | Path] | None = None) -> None:
        if libraries not in self.LIBRARY_MODES:
            raise ValueError(f"libraries must be one of {self.LIBRARY_MODES}, not {libraries!r}")
        if library_files and libraries != "real":
            raise ValueError('library_files replaces the real libraries: it needs libraries="real"')
        self.library_files = {pattern: Path(path) for pattern, path in (library_files or {}).items()}
        missing = [str(path) for path in self.library_files.values() if not path.is_file()]
        if missing:  # now, not as a silently broken page later
            raise FileNotFoundError(f"library_files: no such file: {', '.join(missing)}")
        self.requests: list[RecordedRequest] = []
        self._stubs = {key: (STUBS_DIR / name).read_text() for key, name in self.LIBRARIES.items()}
        self.tiktok_sdk = tiktok_sdk
        self.libraries_mode = libraries
        self.config = config
        self._tag_map: TagMap | None = None
        self._tag_source: Any = None
        self.context: BrowserContext | None = None
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

    def attach(self, context: BrowserContext) -> "VendorRecorder":
        """Record (and answer) every non-local request of this context from now on."""
        self.context = context
        _ATTACHED[id(context)] = self
        context.on("close", lambda _: _ATTACHED.pop(id(context), None))
        context.route("**/*", self._handle)
        context.on("request", self._on_request)
        context.on("requestfinished", self._on_request_done)
        context.on("requestfailed", self._on_request_done)
        return self

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
        if self.libraries_mode == "real" and self._is_library(recorded):
            local = self._library_file(recorded.url)
            if local is None:
                route.fallback()  # the real library (or a route the test set up before attaching)
            else:
                kind = mimetypes.guess_type(local.name)[0] or "application/javascript"
                route.fulfill(status=200, content_type=kind, body=local.read_bytes())
            return
        stub = self._stub_text(recorded)
        if stub is not None:
            route.fulfill(status=200, content_type="application/javascript; charset=utf-8", body=stub)
        elif request.resource_type == "image":
            route.fulfill(status=200, content_type="image/gif", body=PIXEL_GIF)
        else:
            route.fulfill(status=204, headers={"Access-Control-Allow-Origin": "*"})

    def _library_file(self, url: str) -> Path | None:
        for pattern, path in self.library_files.items():
            if fnmatchcase(url, pattern):
                return path
        return None

    def _is_library(self, recorded: RecordedRequest) -> bool:
        return (recorded.host, recorded.path) in self.LIBRARIES or (
            recorded.host == "connect.facebook.net" and recorded.path.startswith(self.META_CONFIG_PREFIX))

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
        hits = [hit for request in self.ga4_requests() for hit in ga4_hits(request)]
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

    # -- tags: which tag sent what (needs the store's configuration for tag ids)

    @property
    def tag_map(self) -> TagMap:
        if self._tag_map is None or self._tag_source is not self.config:
            self._tag_map = TagMap.load(self.config)
            self._tag_source = self.config
        return self._tag_map

    def use_config(self, config: str | Path | Config | None) -> None:
        """Name tags from this tag_configs/ folder (or loaded Config) from now on."""
        self.config = config
        self._tag_map = None

    def events(self, tag_id: str | None = None) -> list[Event]:
        """Every decoded vendor event (and `image` tag request) so far, in the order they were sent, each
        with the id of the tag that sent it (or None)."""
        tag_map = self.tag_map
        found = []
        for request in self.requests:
            for event in decode([request]) or tag_map.image_events(request):
                event.tag_id = tag_map.tag_for(event)
                found.append(event)
        if tag_id is not None:
            _refuse_shadowed(tag_id, [e for e in found if tag_id in e.candidates and e.tag_id != tag_id])
        return [e for e in found if tag_id is None or e.tag_id == tag_id]

    def requests_of(self, categories: Iterable[str]) -> list[RecordedRequest]:
        """Requests that only tags of these consent categories use (libraries, config scripts and beacons,
        by the tags' hosts as the consent firewall matches them). Needs the store's configuration."""
        if self.tag_map.config is None:
            raise ValueError("requests_of() needs the store's configuration (config=..., tag_gateway_configs)")
        wanted = set(categories)
        category = {t.id: t.category for t in self.tag_map.tags}
        found = []
        for request in self.requests:
            owners = self.tag_map.owners(request.url)
            if owners and all(category[o] in wanted for o in owners):
                found.append(request)
        return found

    def unexplained(self) -> list[RecordedRequest]:
        """Requests that are neither a vendor library (or Meta config script) nor a decoded vendor event:
        what a test cannot account for (an undecodable beacon, a host no decoder knows)."""
        decoded = {id(e.hit.request) for e in self.events()}
        return [r for r in self.requests if id(r) not in decoded and not self._is_library(r)]

    def unknown_third_parties(self) -> list[RecordedRequest]:
        """Requests to hosts that no tag declares (e.g. a pixel pasted into the store's HTML)."""
        return [r for r in self.requests if not self.tag_map.is_declared(r.url)]

    def report(self) -> str:
        """What left (or tried to leave) the page, as a readable table."""
        events = self.events()
        event_requests = {id(e.hit.request) for e in events}
        lines = [f"{len(self.requests)} third-party request(s), {len(events)} vendor event(s)."]
        if events:
            rows = [("vendor", "tag", "event", "page", "params")]
            rows += [(e.vendor, (e.tag_id or "unknown") + (f" (or {', '.join(e.candidates[1:])})" if e.candidates else ""), e.event + (" (automatic)" if e.automatic else ""),
                      urlsplit(e.page).path or "-", e.key_params()) for e in events]
            widths = [max(len(row[i]) for row in rows) for i in range(4)]
            for row in rows:
                lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        others = [r for r in self.requests if id(r) not in event_requests and self.tag_map.is_declared(r.url)]
        if others:
            lines.append("Other requests to tag hosts (libraries, config scripts):")
            lines += [f"  {r.method} {_short(r.url)}  ({', '.join(self.tag_map.owners(r.url))})" for r in others]
        unknown = self.unknown_third_parties()
        if unknown:
            lines.append("Unknown third parties (no tag declares these hosts):")
            lines += [f"  {r.method} {_short(r.url)}" for r in unknown]
        return "\n".join(lines)

    def _page(self, page: Page | None) -> Page | None:
        if page is not None:
            return page
        pages = self.context.pages if self.context is not None else []
        return pages[-1] if pages else None

    def assert_fired(self, tag_id: str, once: bool = False, *, times: int | None = None, page: Page | None = None,
                     timeout_ms: int = 8000, **params: Any) -> list[Event]:
        """Wait until the tag `tag_id` sent an event whose parameters include `params` (numbers compared
        as numbers: value=59.9 matches '59.9'); with once=True (or times=N), also that it sent exactly one
        (N) once the page is quiet. Returns the matching events; fails with a table of what did fire."""
        target = self._page(page)
        exactly = 1 if once else times

        def matching() -> list[Event]:
            return [e for e in self.events(tag_id) if _params_match(e.params, params)]

        deadline = time.monotonic() + timeout_ms / 1000
        found = matching()
        while len(found) < (exactly or 1) and time.monotonic() < deadline and target is not None:
            target.wait_for_timeout(50)
            found = matching()
        if found and exactly is not None and target is not None:
            self.settle(target)
            found = matching()
        wanted = f"tag {tag_id!r}" + (f" with {params}" if params else "")
        if tag_id not in {t.id for t in self.tag_map.tags} and self.tag_map.config is not None:
            raise AssertionError(f"no enabled tag {tag_id!r} in the configuration.\n{self.report()}")
        if not found:
            raise AssertionError(f"expected {wanted} to fire; it did not.\n{self.report()}")
        if exactly is not None and len(found) != exactly:
            raise AssertionError(f"expected {wanted} to fire {_times(exactly)}; it fired {_times(len(found))}."
                                 f"\n{self.report()}")
        return found

    def assert_silent(self, *, page: Page | None = None, wait_ms: int = AUTOMATIC_HITS_WAIT_MS,
                      allow_hosts: tuple[str, ...] = (), categories: Iterable[str] | None = None) -> None:
        """Wait past the vendors' automatic hits, then fail unless no request left for a third party
        (vendor or unknown; `allow_hosts` exempts e.g. a font CDN and its subdomains). With `categories`
        (e.g. ["marketing"] after withdrawing it) only requests of those categories' tags and unknown
        third parties count: the other categories' tags may fire."""
        target = self._page(page)
        if target is not None:
            self.wait_past_automatic_hits(target, wait_ms)
        candidates = self.requests
        if categories is not None:
            counted = {id(r) for r in self.requests_of(categories) + self.unknown_third_parties()}
            candidates = [r for r in self.requests if id(r) in counted]
        left = [r for r in candidates
                if not any(r.host == h or r.host.endswith("." + h) for h in allow_hosts)]
        if left:
            which = "" if categories is None else f" of {sorted(categories)} (or to an unknown host)"
            raise AssertionError(f"expected no third-party request{which}; {len(left)} left the page.\n"
                                 f"{self.report()}")


def _refuse_shadowed(tag_id: str, events: list[Event]) -> None:
    """Events `tag_id` may have sent that are credited to an earlier tag sending alike: the answer for
    `tag_id` would be a guess (and 'it did not fire' a wrong one)."""
    if not events:
        return
    first = events[0]
    what = "requests to" if first.vendor == "image" else f"{first.vendor} {first.event!r} events to"
    raise AssertionError(
        f"cannot tell whether tag {tag_id!r} fired: it sends the same {what} {first.account} as {first.tag_id!r} "
        f"(earlier in the configuration) and neither fixed parameter values nor page_view `paths` tell them apart, "
        f"so {len(events)} such event(s) are credited to {first.tag_id!r} and could be either's. Give each of these "
        f"tags a parameter with a fixed value of its own (e.g. params: {{tag_name: {tag_id}}}), or assert on the "
        f"events themselves: [e for e in recorder.events() if {tag_id!r} in e.candidates] (e.page tells the pages "
        f"apart).")


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _short(url: str, limit: int = 120) -> str:
    url = url.split("://", 1)[-1]
    return url if len(url) <= limit else url[: limit - 3] + "..."


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        actual = number(actual)
        return isinstance(actual, float) and abs(actual - float(expected)) < 1e-9
    return expected == actual or (not isinstance(actual, (list, dict)) and str(expected) == str(actual))


def _params_match(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(key in actual and _same(value, actual[key]) for key, value in expected.items())


def new_recorded_context(browser: Browser, tiktok_sdk: str = "legacy", config: str | Path | Config | None = None,
                         libraries: str = "stubs", library_files: Mapping[str, str | Path] | None = None,
                         **options) -> tuple[BrowserContext, VendorRecorder]:
    """A new browser context whose third-party requests a new VendorRecorder records."""
    options.setdefault("viewport", VIEWPORT)
    recorder = VendorRecorder(tiktok_sdk=tiktok_sdk, config=config, libraries=libraries, library_files=library_files)
    context = browser.new_context(**options)
    recorder.attach(context)
    return context, recorder

"""The kit's `libraries="real"` mode: vendor libraries are let through, beacons are still recorded and answered.

Nothing may reach the vendors from a test machine, so "the vendor" is played by local files: the stand-ins
of gateway/testing/stubs/, written out as the vendors' servers would send them (gtag.js with the `l` data
layer the container asks for filled in, Meta's per-pixel config script). They reach the page either through
a route the test registered before attaching the recorder (what real mode falls back to) or through the
recorder's own `library_files`. Without either, a real library goes to the vendor's host, which the kit's
Chromium resolves to nothing: no stand-in is slipped in, so no pixel fires.
"""

from __future__ import annotations

import os
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from gateway.testing import VendorRecorder, accept_all, new_recorded_context, reject_all, wait_ready
from gateway.testing.browser import VIEWPORT
from gateway.testing.recorder import STUBS_DIR

from .support import DEFAULT_CONFIG_DIR, META_PIXEL_ID

GTAG = "https://www.googletagmanager.com/gtag/js?*"
FBEVENTS = "https://connect.facebook.net/en_US/fbevents.js"
META_CONFIG = f"https://connect.facebook.net/signals/config/{META_PIXEL_ID}*"
TIKTOK = "https://analytics.tiktok.com/i18n/pixel/events.js*"
# What the page would load as "the vendor's" libraries; the stand-ins carry a marker so the test can tell.
SERVED_MARKER = "window.__tgServedLocally = (window.__tgServedLocally || 0) + 1;\n"


@pytest.fixture
def vendor_files(tmp_path: Path) -> dict[str, Path]:
    """Local copies of the three vendor libraries and Meta's config script, keyed by their URL pattern."""
    gtag = (STUBS_DIR / "gtag.js").read_text().replace("'__TG_STUB_DATA_LAYER__'", "'tgGtagLayer'")
    bodies = {
        GTAG: ("gtag.js", gtag),  # as Google serves it for ?l=tgGtagLayer (the container's own layer)
        FBEVENTS: ("fbevents.js", (STUBS_DIR / "fbevents.js").read_text()),
        META_CONFIG: ("config.js", VendorRecorder._meta_config_script(META_PIXEL_ID)),
        TIKTOK: ("events.js", (STUBS_DIR / "tiktok_events.js").read_text()),
    }
    files = {}
    for pattern, (name, body) in bodies.items():
        files[pattern] = tmp_path / name
        files[pattern].write_text(SERVED_MARKER + body)
    return files


def _check_real_libraries(page, store_url: str, recorder: VendorRecorder, refuse_first: bool) -> None:
    page.goto(store_url + "/thank-you.html?order=ORD-REAL")
    wait_ready(page)
    if refuse_first:
        reject_all(page)
    recorder.assert_silent()  # nothing left before consent (or after a refusal): no library, no beacon
    if refuse_first:  # the refused page's events were dropped: accept, then a new page view fires them
        page.evaluate("() => tagGateway.acceptAll()")
        page.reload()
        wait_ready(page)
    else:  # the held events fire once on accepting
        accept_all(page)
    recorder.assert_fired("ga4", once=True)
    recorder.assert_fired("ga4-purchase", once=True, value=59.9, transaction_id="ORD-REAL")
    recorder.assert_fired("meta-purchase", once=True, value=59.9, currency="EUR", event_id="ORD-REAL")
    recorder.assert_fired("tiktok-purchase", once=True, value=59.9)
    # The libraries were requested (recorded) and came from the local files, not from the kit's stand-ins.
    assert {r.host for r in recorder.libraries()} == {
        "www.googletagmanager.com", "connect.facebook.net", "analytics.tiktok.com"}, recorder.report()
    assert page.evaluate("() => window.__tgServedLocally") >= 3


def test_real_mode_lets_libraries_through_to_the_tests_own_routes(browser: Browser, gateway, vendor_files):
    context = browser.new_context(viewport=VIEWPORT)
    served: list[str] = []

    def vendor(path: Path):  # plays the vendor's server
        def answer(route) -> None:
            served.append(route.request.url)
            route.fulfill(path=path, content_type="application/javascript")
        return answer

    try:
        # Registered before the recorder attaches: the recorder sees each request first, then falls back here.
        for pattern, path in vendor_files.items():
            context.route(lambda url, pattern=pattern: fnmatchcase(url, pattern), vendor(path))
        recorder = VendorRecorder(config=DEFAULT_CONFIG_DIR, libraries="real").attach(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        _check_real_libraries(page, gateway.url, recorder, refuse_first=True)
        assert any("/gtag/js?id=G-EXAMPLE123" in url for url in served), served
        assert any(url.endswith("/fbevents.js") for url in served), served
        assert any("/i18n/pixel/events.js" in url for url in served), served
        # Beacons never reach the test's routes (nor the vendor): the recorder answers them itself.
        assert all("collect" not in url and "/tr" not in url and "/api/" not in url for url in served), served
    finally:
        context.close()


def test_library_files_answer_the_library_urls_from_local_files(browser: Browser, gateway, vendor_files):
    context, recorder = new_recorded_context(browser, config=DEFAULT_CONFIG_DIR, libraries="real",
                                             library_files=vendor_files)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        _check_real_libraries(page, gateway.url, recorder, refuse_first=False)
    finally:
        context.close()


def test_without_a_local_copy_a_real_library_goes_to_the_vendor(browser: Browser, gateway):
    context, recorder = new_recorded_context(browser, config=DEFAULT_CONFIG_DIR, libraries="real")
    failed: list[str] = []
    context.on("requestfailed", lambda request: failed.append(request.url))
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(gateway.url + "/")
        accept_all(page)
        recorder.wait_past_automatic_hits(page)
        # Requested and recorded, sent on to the vendor (offline: unreachable), and no stand-in answered.
        assert {r.host for r in recorder.libraries()} >= {"www.googletagmanager.com", "connect.facebook.net"}
        assert any("/gtag/js" in url for url in failed) and any("fbevents.js" in url for url in failed), failed
        assert recorder.events() == [], recorder.report()
    finally:
        context.close()


def test_library_files_are_checked_when_the_recorder_is_made(tmp_path: Path):
    with pytest.raises(ValueError, match='needs libraries="real"'):
        VendorRecorder(library_files={GTAG: tmp_path / "gtag.js"})
    with pytest.raises(FileNotFoundError, match="gtag.js"):
        VendorRecorder(libraries="real", library_files={GTAG: tmp_path / "gtag.js"})



STORE_PROJECT_TEST = '''
import os

from gateway.testing import accept_all


def test_checkout_with_the_real_libraries(page, tag_recorder):
    page.goto(os.environ["STORE_URL"] + "/thank-you.html?order=ORD-PLUGIN")
    tag_recorder.assert_silent(wait_ms=0)
    accept_all(page)
    tag_recorder.assert_fired("meta-purchase", once=True, value=59.9, event_id="ORD-PLUGIN")
    tag_recorder.assert_fired("ga4-purchase", once=True, transaction_id="ORD-PLUGIN")
    assert tag_recorder.libraries_mode == "real"
    assert page.evaluate("() => window.__tgServedLocally") >= 3  # the local copies, not the stand-ins
'''


def test_the_plugin_takes_library_files_from_a_fixture(tmp_path: Path, gateway, vendor_files):
    """A store's project as the README describes it: the plugin's own fixtures, real libraries chosen in
    pytest.ini, the local copies given by overriding `tag_gateway_library_files` in its conftest.py."""
    project = tmp_path / "store_project"
    project.mkdir()
    (project / "pytest.ini").write_text(
        f"[pytest]\ntag_gateway_configs = {DEFAULT_CONFIG_DIR}\ntag_gateway_libraries = real\n")
    files = {pattern: str(path) for pattern, path in vendor_files.items()}
    (project / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef tag_gateway_library_files():\n"
        f"    return {files!r}\n")
    (project / "test_tags.py").write_text(STORE_PROJECT_TEST)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tags.py"],
                          cwd=project, env=dict(os.environ, STORE_URL=gateway.url), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]

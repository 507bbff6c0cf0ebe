"""What a visitor's browser pays for the container, on the example store's home page in Chromium.

* banner: from the moment the container's bytes arrived (its resource timing `responseEnd`) to the first
  animation frame in which the banner dialog has a box. This includes GET /consent, whose answer carries
  the dialogs: it is what the visitor waits for.
* first pixel: from the "Accept all" click to the start of the first request to a vendor host.
* longest task: the longest main-thread task (Chromium trace, `RunTask`) in which the container's code or
  the dialogs' (/ui.js) ran (evaluation, or any callback: timers, events, fetch answers), from load to after
  the click.
* interaction: from the "Accept all" click (the event's own time stamp, so input delay counts) to the first
  frame after it: what the visitor waits for before the banner visibly reacts (the INP of that click).
* layout shift: the layout-shift entries (not caused by input) on the page with the container, minus
  those on the same page with an empty container: what the banner moved. Must be 0.

Vendor requests are answered locally by the testing kit's recorder (stand-in libraries): nothing leaves.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass

from playwright.sync_api import sync_playwright

from bench.errors import BenchError
from gateway.testing.browser import launch_chromium
from gateway.testing.recorder import new_recorded_context

# Runs before the page's scripts: observers for layout shifts, the banner's first visible frame, the click
# and the resources that started after it.
PROBE = """
(function () {
  var b = window.__bench = {shifts: [], bannerAt: null, clickAt: null};
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { if (!e.hadRecentInput) b.shifts.push(e.value); });
  }).observe({type: 'layout-shift', buffered: true});
  addEventListener('click', function (e) {
    if (b.clickAt !== null) return;
    b.clickAt = performance.now();
    // The frame after every handler of this click ran: requestAnimationFrame, then the task after it.
    requestAnimationFrame(function () { setTimeout(function () { b.frameAfterClick = performance.now() - e.timeStamp; }); });
  }, true);
  function dialogShown() {
    var hosts = document.querySelectorAll('[data-tag-gateway]');
    for (var i = 0; i < hosts.length; i++) {
      var root = hosts[i].shadowRoot, d = root && root.querySelector('[role=dialog]');
      if (d && !d.hidden && d.getBoundingClientRect().height > 0) return true;
    }
    return false;
  }
  (function poll() {
    if (b.bannerAt === null && document.body && dialogShown()) b.bannerAt = performance.now();
    if (b.bannerAt === null) requestAnimationFrame(poll);
  })();
})();
"""

READ = """() => {
  var b = window.__bench, local = [location.hostname, '127.0.0.1', 'localhost'];
  var entries = performance.getEntriesByType('resource');
  var script = entries.filter(function (e) { return /\\/container\\.js(\\?|$)/.test(e.name); })[0];
  var vendor = entries.filter(function (e) {
    return local.indexOf(new URL(e.name).hostname) < 0 && b.clickAt !== null && e.startTime >= b.clickAt;
  }).map(function (e) { return {url: e.name, start: e.startTime}; }).sort(function (x, y) { return x.start - y.start; });
  return {scriptEnd: script ? script.responseEnd : null, bannerAt: b.bannerAt, clickAt: b.clickAt,
          interaction: b.frameAfterClick === undefined ? null : b.frameAfterClick,
          firstVendor: vendor[0] || null, shifts: b.shifts};
}"""

# The timeline gives the main thread's tasks; the V8 sampling profiler (in the same trace) says whose
# code ran in them. Microtasks (a fetch answer's callbacks) carry no script URL in the timeline events,
# and Playwright's own injected scripts run on the same thread, so samples decide, not event names.
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "v8.execute",
                    "disabled-by-default-v8.cpu_profiler"]
_CODE_EVENTS = {"EvaluateScript", "FunctionCall", "v8.compile", "TimerFire"}
SETTLE_MS = 1500  # after the click: the tags fire and the banner closes


@dataclass(frozen=True)
class Visit:
    banner_ms: float
    first_pixel_ms: float
    first_pixel_url: str
    longest_task_ms: float
    layout_shift: float
    interaction_ms: float


def _event_url(event: dict) -> str:
    data = (event.get("args") or {}).get("data") or {}
    return str(data.get("url") or "")


def _container_moments(events: list[dict], marker: str) -> dict[int, list[float]]:
    """Per process: trace times (µs) at which code from a script whose URL contains `marker` was running."""
    moments: dict[int, list[float]] = {}
    for e in events:  # timeline events that name the script
        if e.get("ph") == "X" and e.get("name") in _CODE_EVENTS and marker in _event_url(e):
            moments.setdefault(e["pid"], []).append(e["ts"])
    starts = {(e["pid"], e.get("id")): e["args"]["data"]["startTime"] for e in events if e.get("name") == "Profile"}
    nodes: dict[tuple, dict[int, dict]] = {}
    clock: dict[tuple, float] = {}
    for e in events:  # samples: a chunk adds nodes (with parents) and samples with time deltas
        if e.get("name") != "ProfileChunk" or (e["pid"], e.get("id")) not in starts:
            continue
        key = (e["pid"], e.get("id"))
        profile = e["args"]["data"].get("cpuProfile", {})
        known = nodes.setdefault(key, {})
        for node in profile.get("nodes", []):
            known[node["id"]] = node
        clock.setdefault(key, starts[key])
        for sample, delta in zip(profile.get("samples", []), e["args"]["data"].get("timeDeltas", [])):
            clock[key] += delta
            node = known.get(sample)
            while node is not None:
                if marker in node.get("callFrame", {}).get("url", ""):
                    moments.setdefault(key[0], []).append(clock[key])
                    break
                node = known.get(node.get("parent"))
    return moments


def longest_container_task(trace: dict | list, markers: tuple[str, ...] = ("/container.js", "/ui.js")) -> float:
    """Duration (ms) of the longest main-thread task (RunTask) during which our code ran: the container's,
    or the dialogs' (/ui.js, which handles the banner's clicks)."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    moments: dict[int, list[float]] = {}
    for marker in markers:
        for pid, times in _container_moments(events, marker).items():
            moments.setdefault(pid, []).extend(times)
    longest = 0.0
    for e in events:
        if e.get("name") == "RunTask" and e.get("ph") == "X" and (e["pid"], e["tid"]) in main:
            begin, end = e["ts"], e["ts"] + e["dur"]
            if any(begin <= t <= end for t in moments.get(e["pid"], ())):
                longest = max(longest, e["dur"] / 1000)
    return longest


def _shift_sum(page_url: str, browser, empty_container: bool) -> float:
    context, _recorder = new_recorded_context(browser)
    try:
        if empty_container:
            context.route("**/container.js", lambda route: route.fulfill(status=200, body="",
                                                                          content_type="text/javascript"))
        context.add_init_script(PROBE)
        page = context.new_page()
        page.goto(page_url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(SETTLE_MS)
        return sum(page.evaluate("() => window.__bench.shifts"))
    finally:
        context.close()


def _visit(browser, page_url: str) -> Visit:
    context, _recorder = new_recorded_context(browser)
    try:
        context.add_init_script(PROBE)
        page = context.new_page()
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        try:
            page.goto(page_url)
            page.wait_for_function("() => window.__bench.bannerAt !== null", timeout=15_000)
            page.get_by_role("dialog").get_by_role("button", name="Accept all", exact=True).click()
            page.wait_for_function(
                "() => performance.getEntriesByType('resource').some(function (e) {"
                " return ['127.0.0.1', 'localhost', location.hostname].indexOf(new URL(e.name).hostname) < 0"
                " && e.startTime >= window.__bench.clickAt; })", timeout=15_000)
            page.wait_for_timeout(SETTLE_MS)
        finally:
            trace = json.loads(browser.stop_tracing())
        seen = page.evaluate(READ)
    finally:
        context.close()
    if seen["scriptEnd"] is None or seen["firstVendor"] is None or seen["interaction"] is None:
        raise BenchError(f"the browser did not see the container load or a vendor request after the click: {seen}")
    return Visit(banner_ms=seen["bannerAt"] - seen["scriptEnd"],
                 first_pixel_ms=seen["firstVendor"]["start"] - seen["clickAt"],
                 first_pixel_url=seen["firstVendor"]["url"], longest_task_ms=longest_container_task(trace),
                 layout_shift=sum(seen["shifts"]), interaction_ms=seen["interaction"])


def measure(store_url: str, visits: int) -> dict:
    """Medians over `visits` fresh visits (new context each: no stored choice); layout shift against an empty container."""
    page_url = store_url.rstrip("/") + "/"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            runs = [_visit(browser, page_url) for _ in range(visits)]
            without = _shift_sum(page_url, browser, empty_container=True)
        finally:
            browser.close()
    shift = statistics.median(r.layout_shift for r in runs)
    return {
        "visits": visits,
        "banner_ms": statistics.median(r.banner_ms for r in runs),
        "first_pixel_ms": statistics.median(r.first_pixel_ms for r in runs),
        "first_pixel_url": runs[0].first_pixel_url,
        # Median over visits: on a busy machine one visit's task can be stretched by the scheduler.
        "longest_task_ms": statistics.median(r.longest_task_ms for r in runs),
        "longest_task_ms_per_visit": [r.longest_task_ms for r in runs],
        "interaction_ms": statistics.median(r.interaction_ms for r in runs),
        "layout_shift_with_container": shift,
        "layout_shift_without_container": without,
        "layout_shift": max(0.0, shift - without),
    }

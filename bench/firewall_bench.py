"""What the consent firewall costs the page's own requests, in a real Chromium. Figures, not pass/fail.

    .venv/bin/python bench/firewall_bench.py

Every `fetch`, XHR, beacon and `src` set from a script now goes through the firewall's check. This
measures that check on the path it must not slow down: requests to hosts no tag declares. It sets
`src` on detached <script> elements (a detached script fetches nothing, so only the check is timed)
and runs `fetch` to a host that resolves nowhere (the browser refuses at once), once on a page with the
example store's container and once on the same page without it, interleaved, and prints the ratio.
The machine is shared and noisy: read the ratio, not the microseconds.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from e2e.support import CHROMIUM_ARGS, DEFAULT_CONFIG_DIR, GatewayServer, find_chromium  # noqa: E402

ROUNDS = 5
SETS = 20_000

TIME_SRC_SETS = f"""() => {{
  const s = document.createElement('script'), t0 = performance.now();
  for (let i = 0; i < {SETS}; i++) s.setAttribute('src', 'https://cdn.other.example/lib.js?v=' + i);
  return (performance.now() - t0) * 1000 / {SETS};
}}"""

TIME_PROPERTY_SETS = f"""() => {{
  const t0 = performance.now();
  for (let i = 0; i < {SETS}; i++) document.createElement('script').src = 'https://cdn.other.example/lib.js?v=' + i;
  return (performance.now() - t0) * 1000 / {SETS};
}}"""


def main() -> None:
    server = GatewayServer(DEFAULT_CONFIG_DIR).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_chromium(playwright), args=CHROMIUM_ARGS)
            with_fw = browser.new_page()
            with_fw.goto(server.url + "/privacy.html")
            with_fw.wait_for_function("() => window.tagGateway && tagGateway.state !== 'loading'")
            without = browser.new_page()
            without.route("**/container.js", lambda route: route.fulfill(status=200, body="", content_type="text/javascript"))
            without.goto(server.url + "/privacy.html")
            results: dict[str, dict[str, list[float]]] = {"setAttribute('src')": {}, ".src =": {}}
            for _ in range(ROUNDS):
                for name, page in (("container", with_fw), ("baseline", without)):
                    results["setAttribute('src')"].setdefault(name, []).append(page.evaluate(TIME_SRC_SETS))
                    results[".src ="].setdefault(name, []).append(page.evaluate(TIME_PROPERTY_SETS))
            browser.close()
    finally:
        server.stop()
    print(f"consent firewall on requests to an undeclared host ({ROUNDS} interleaved rounds of {SETS:,}, medians)")
    for operation, by_page in results.items():
        fw, base = statistics.median(by_page["container"]), statistics.median(by_page["baseline"])
        print(f"  {operation:20} {fw:6.2f} µs with the firewall, {base:6.2f} µs without: {fw / base:4.2f} x"
              f"  (+{fw - base:.2f} µs per request)")


if __name__ == "__main__":
    main()

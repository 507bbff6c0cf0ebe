"""Which Chromium the kit launches, and how: offline by default.

Playwright's own Chromium when `playwright install chromium` was possible, else the binary named by
`CHROMIUM_EXECUTABLE`, else a system `chromium` (Debian's works).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI containers often run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Second safety net behind the recorder: every other host name resolves to NOTFOUND.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

VIEWPORT = {"width": 1280, "height": 800}


class ChromiumNotFound(RuntimeError):
    """No Chromium to launch; the message says how to get one."""


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
            raise ChromiumNotFound(f"CHROMIUM_EXECUTABLE={from_env} does not exist")
        return from_env
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    raise ChromiumNotFound(
        "No Chromium found for the browser tests. Install one with "
        "`apt-get install -y chromium` (Debian/Ubuntu), or `python -m playwright install chromium`, "
        "or point CHROMIUM_EXECUTABLE at a Chromium/Chrome binary."
    )


def launch_chromium(playwright: Playwright, headless: bool = True, offline: bool = True, **options) -> Browser:
    """Launch the Chromium find_chromium picks; `offline` keeps the host-resolver safety net."""
    args = list(CHROMIUM_ARGS if offline else CHROMIUM_ARGS[:-1])
    return playwright.chromium.launch(executable_path=find_chromium(playwright), headless=headless,
                                      args=args + list(options.pop("args", [])), **options)

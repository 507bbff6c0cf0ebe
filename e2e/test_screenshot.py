"""Keeps docs/banner.png, the picture of the banner used in the README, up to date."""

import struct

from playwright.sync_api import expect

from .support import REPO, VIEWPORT

SCREENSHOT = REPO / "docs" / "banner.png"


def test_banner_screenshot_for_docs(shop):
    shop.open("/")
    expect(shop.banner).to_be_visible()
    shop.page.wait_for_timeout(500)  # let an entry transition finish

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shop.page.screenshot(path=str(SCREENSHOT))

    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])

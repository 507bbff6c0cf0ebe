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


# One picture per layout, and the dark theme, for the README's "The banner's look".
LOOK_SHOTS = {"modal": {}, "box": {"layout": "box"}, "bar": {"layout": "bar"}, "dark": {"theme": "dark"}}


def test_layout_screenshots_for_docs(browser, tmp_path) -> None:
    from .support import GatewayServer, Shop, new_recorded_context
    from .test_layouts import make_looks

    configs, store = make_looks(tmp_path, LOOK_SHOTS)
    server = GatewayServer(configs, store).start()
    try:
        for name in LOOK_SHOTS:
            context, recorder = new_recorded_context(browser, viewport=VIEWPORT)
            try:
                shop = Shop(context.new_page(), f"{server.url}/{name}", recorder).open("/index.html")
                expect(shop.banner).to_be_visible()
                shop.page.wait_for_timeout(300)
                path = REPO / "docs" / f"banner-{name}.png"
                shop.page.screenshot(path=str(path))
                assert struct.unpack(">II", path.read_bytes()[16:24]) == (VIEWPORT["width"], VIEWPORT["height"])
            finally:
                context.close()
    finally:
        server.stop()

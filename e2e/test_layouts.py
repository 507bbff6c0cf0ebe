"""The banner's look (README "The banner's look"): each layout and position where the configuration puts it,
in a desktop and a phone viewport; "Accept all" and "Reject all" styled alike and "Customize" apart; the
light, dark and auto themes; the store's font and its --tg-* colours on purpose, nothing else of its CSS;
the floating button moved or hidden; no axe violations in any layout and theme; no layout shift, and on a
phone the banner is never the page's largest contentful paint.

One gateway serves every look, as sites of one root (README "Several stores"): each site is a copy of the
example store's configuration with its own `banner:` settings, and its pages are the example store's,
loading /c/<site>.js.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from gateway.testing import reject_all, visit_as

from .support import BANNER_TITLE, DEFAULT_CONFIG_DIR, PREFERENCES_TITLE, STORE_DIR, GatewayServer, Shop, \
    new_recorded_context

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# site name -> its banner settings (on top of the example store's)
LOOKS = {
    "modal": {},
    "box": {"layout": "box"},
    "box-left": {"layout": "box", "position": "bottom-left"},
    "bar": {"layout": "bar"},
    "bar-top": {"layout": "bar", "position": "top"},
    "dark": {"theme": "dark"},
    "auto": {"theme": "auto"},
    "box-dark": {"layout": "box", "theme": "dark"},
    "bar-dark": {"layout": "bar", "theme": "dark"},
    "box-auto": {"layout": "box", "theme": "auto"},
    "bar-auto": {"layout": "bar", "theme": "auto"},
    "fab-right": {"fab_position": "bottom-right"},
    "no-fab": {"floating_button": False},
}
LIGHT_BG, DARK_BG = "rgb(255, 255, 255)", "rgb(29, 32, 39)"
LIGHT_FG, DARK_FG = "rgb(27, 29, 34)", "rgb(236, 238, 242)"


def make_looks(root: Path, looks: dict[str, dict]) -> tuple[Path, Path]:
    """A config root with one site per look, and a store folder with the example store's pages per site."""
    configs, store = root / "configs", root / "store"
    for name, settings in looks.items():
        site_dir = configs / name
        site_dir.mkdir(parents=True)
        for source in DEFAULT_CONFIG_DIR.glob("*.yaml"):
            data = yaml.safe_load(source.read_text("utf-8"))
            if "site" in data:
                data["site"]["id"] = f"looks-{name}"  # sites of one root must not read each other's choices
                data["banner"] = {**data.get("banner", {}), **settings}
            (site_dir / source.name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        pages = store / name
        shutil.copytree(STORE_DIR, pages)
        for page in pages.glob("*.html"):
            page.write_text(page.read_text("utf-8").replace('src="/container.js"', f'src="/c/{name}.js"'), "utf-8")
    return configs, store


@pytest.fixture(scope="module")
def looks(tmp_path_factory) -> GatewayServer:
    configs, store = make_looks(tmp_path_factory.mktemp("looks"), LOOKS)
    server = GatewayServer(configs, store).start()
    yield server
    server.stop()


def open_look(browser, server: GatewayServer, name: str, path: str = "/index.html", **options):
    context, recorder = new_recorded_context(browser, **options)
    shop = Shop(context.new_page(), f"{server.url}/{name}", recorder).open(path)
    return context, shop


# What the eye compares between two buttons.
BUTTON_STYLE = """el => {
  const s = getComputedStyle(el), r = el.getBoundingClientRect();
  return {width: Math.round(r.width), height: Math.round(r.height), fontSize: s.fontSize, fontWeight: s.fontWeight,
          fontFamily: s.fontFamily, color: s.color, background: s.backgroundColor, border: s.borderTopColor + ' ' +
          s.borderTopWidth + ' ' + s.borderTopStyle, radius: s.borderTopLeftRadius, padding: s.padding};
}"""
RECT = "el => el.getBoundingClientRect().toJSON()"
COLOURS = "el => ({bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color})"


def banner_rect(shop: Shop) -> dict:
    expect(shop.banner).to_be_visible()
    return shop.banner.evaluate(RECT)


def assert_on_screen(rect: dict, viewport: dict) -> None:
    assert rect["left"] >= 0 and rect["top"] >= 0, rect
    assert rect["right"] <= viewport["width"] + 0.5 and rect["bottom"] <= viewport["height"] + 0.5, rect


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_each_layout_sits_where_it_is_configured(browser, looks, viewport) -> None:
    width, height = viewport["width"], viewport["height"]
    gap = 16 if viewport is DESKTOP else 8
    rects = {}
    for name in ("modal", "box", "box-left", "bar", "bar-top"):
        context, shop = open_look(browser, looks, name, viewport=viewport)
        try:
            rects[name] = rect = banner_rect(shop)
            assert_on_screen(rect, viewport)
        finally:
            context.close()

    modal, box, box_left, bar, bar_top = (rects[n] for n in ("modal", "box", "box-left", "bar", "bar-top"))
    # modal (the default, as before): a card centred at the bottom, a gap on every side.
    assert abs(modal["left"] - (width - modal["right"])) <= 1, modal
    assert abs(height - modal["bottom"] - gap) <= 1 and modal["left"] >= gap - 1, modal
    # bar: the full width, flush with the bottom edge, or the top.
    assert bar["left"] == 0 and bar["right"] == width and abs(bar["bottom"] - height) <= 1, bar
    assert bar_top["left"] == 0 and bar_top["right"] == width and bar_top["top"] == 0, bar_top
    assert bar_top["height"] < height / 2 and bar["height"] < height / 2
    # box: a card in the chosen bottom corner.
    for rect in (box, box_left):
        assert abs(height - rect["bottom"] - gap) <= 1, rect
    assert abs(width - box["right"] - gap) <= 1 and abs(box_left["left"] - gap) <= 1, (box, box_left)
    if viewport is DESKTOP:
        assert modal["width"] == 760
        assert box["width"] <= 400 and box["left"] > width / 2, box  # a corner card, not a centred one
        assert box_left["right"] < width / 2, box_left
        assert bar["height"] < 120, bar  # one band: texts and buttons side by side
    else:  # on a phone every layout takes the width, less its gaps
        assert box["width"] == box_left["width"] == modal["width"] == width - 2 * gap


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", ["modal", "box", "bar", "dark", "box-dark", "bar-dark"])
def test_accept_and_reject_look_alike_and_customize_is_secondary(browser, looks, name, viewport) -> None:
    context, shop = open_look(browser, looks, name, viewport=viewport)
    try:
        accept, reject, customize = (shop.button(shop.banner, n).evaluate(BUTTON_STYLE)
                                     for n in ("Accept all", "Reject all", "Customize"))
        assert accept == reject, f"Accept all and Reject all differ: {accept} vs {reject}"
        assert accept["background"] not in ("rgba(0, 0, 0, 0)", customize["background"]), (accept, customize)
        assert customize["background"] == "rgba(0, 0, 0, 0)", customize  # outlined, on the banner's background
        assert customize["color"] == accept["background"], (accept, customize)  # the accent, as text
        assert customize["fontSize"] == accept["fontSize"] and customize["height"] == accept["height"]
    finally:
        context.close()


@pytest.mark.parametrize("os_scheme, name, expected", [
    ("dark", "modal", "light"),   # the default: a light banner even on a dark system (the complaint)
    ("light", "dark", "dark"),
    ("dark", "dark", "dark"),
    ("light", "auto", "light"),
    ("dark", "auto", "dark"),
])
def test_the_theme_is_the_configurations_or_the_systems_when_auto(browser, looks, os_scheme, name, expected) -> None:
    context, shop = open_look(browser, looks, name, viewport=DESKTOP, color_scheme=os_scheme)
    try:
        colours = shop.banner.evaluate(COLOURS)
        assert colours == ({"bg": DARK_BG, "fg": DARK_FG} if expected == "dark" else {"bg": LIGHT_BG, "fg": LIGHT_FG})
        link = shop.banner.get_by_role("link").evaluate("a => getComputedStyle(a).color")
        accept = shop.button(shop.banner, "Accept all").evaluate(COLOURS)
        # The dark theme's accent is a lighter shade of #1f4fd1 that reads on the dark background.
        assert link == accept["bg"] and (link == "rgb(31, 79, 209)") == (expected == "light"), (link, accept)

        shop.button(shop.banner, "Customize").click()
        expect(shop.preferences).to_be_visible()
        assert shop.preferences.evaluate(COLOURS)["bg"] == (DARK_BG if expected == "dark" else LIGHT_BG)
        shop.button(shop.preferences, "Reject all").click()
        fab = shop.page.get_by_role("button", name="Privacy settings")
        expect(fab).to_be_visible()
        assert fab.evaluate(COLOURS)["bg"] == (DARK_BG if expected == "dark" else LIGHT_BG)
    finally:
        context.close()


def test_the_floating_button_moves_or_hides(browser, looks) -> None:
    positions = {}
    for name in ("modal", "fab-right"):
        context, shop = open_look(browser, looks, name, viewport=DESKTOP)
        try:
            reject_all(shop.page)
            fab = shop.page.get_by_role("button", name="Privacy settings")
            expect(fab).to_be_visible()
            positions[name] = fab.evaluate(RECT)
        finally:
            context.close()
    assert positions["modal"]["left"] == 16 and positions["fab-right"]["right"] == DESKTOP["width"] - 16, positions
    assert positions["modal"]["bottom"] == positions["fab-right"]["bottom"] == DESKTOP["height"] - 16

    # floating_button: false: no button; the store's own link calls tagGateway.showPreferences().
    context, shop = open_look(browser, looks, "no-fab", viewport=DESKTOP)
    try:
        reject_all(shop.page)
        shop.page.wait_for_timeout(300)
        expect(shop.page.get_by_role("button", name="Privacy settings")).to_be_hidden()
        shop.page.evaluate("() => tagGateway.showPreferences()")
        expect(shop.preferences).to_be_visible()
    finally:
        context.close()


STORE_STYLE = """
body { font-family: "Courier New", monospace !important; }
[data-tag-gateway] { --tg-accent: #0b6e4f; --tg-accent-text: #ffffff; }
:root { --tg-bg: #ff0000; }
.tg-banner, section, button { background: #ff0000 !important; color: #00ff00 !important; font-family: fantasy !important; }
"""


def test_the_store_sets_font_and_tg_colours_on_the_host_and_nothing_else(browser, looks) -> None:
    context, shop = open_look(browser, looks, "modal", viewport=DESKTOP)
    try:
        shop.page.add_style_tag(content=STORE_STYLE)
        accept = shop.button(shop.banner, "Accept all").evaluate(BUTTON_STYLE)
        assert accept["background"] == "rgb(11, 110, 79)" and accept["color"] == "rgb(255, 255, 255)", accept
        assert "Courier New" in accept["fontFamily"], accept  # the store's font, inherited through the host
        assert shop.banner.evaluate(COLOURS) == {"bg": LIGHT_BG, "fg": LIGHT_FG}  # :root and selectors: no effect
        assert "Courier New" in shop.banner.evaluate("el => getComputedStyle(el).fontFamily")

        # --tg-font on the host picks another font for the banner alone.
        shop.page.add_style_tag(content="[data-tag-gateway] { --tg-font: Georgia, serif; }")
        assert shop.banner.evaluate("el => getComputedStyle(el).fontFamily") == "Georgia, serif"
    finally:
        context.close()


# Every layout and theme on a light system; on a dark one, `auto` in every layout and a fixed theme once
# (with the modal layout): a fixed theme looks the same on any system. Left out, not skipped.
AXE_CASES = [(layout, theme, os_scheme) for os_scheme in ("light", "dark") for layout in ("modal", "box", "bar")
             for theme in ("light", "dark", "auto") if not (theme != "auto" and os_scheme == "dark" and layout != "modal")]


@pytest.mark.parametrize("layout, theme, os_scheme", AXE_CASES)
def test_no_axe_violations_in_any_layout_and_theme(browser, looks, layout, theme, os_scheme) -> None:
    name = {"light": layout, "dark": f"{layout}-dark" if layout != "modal" else "dark",
            "auto": f"{layout}-auto" if layout != "modal" else "auto"}[theme]
    context, shop = open_look(browser, looks, name, viewport=DESKTOP, color_scheme=os_scheme)
    try:
        expect(shop.banner).to_be_visible()
        shop.page.wait_for_timeout(300)  # no transition, but let fonts settle before colours are measured
        _no_violations(shop, "first layer")
        if layout == "modal":  # the preferences dialog is the same in every layout
            shop.button(shop.banner, "Customize").click()
            expect(shop.preferences).to_be_visible()
            _no_violations(shop, "preferences")
    finally:
        context.close()


def _no_violations(shop: Shop, what: str) -> None:
    results = Axe().run(shop.page, context={"include": [["[data-tag-gateway]"]]})
    violations = results.response["violations"]
    assert results.response["passes"], "axe checked nothing"
    assert not violations, f"axe violations in the {what}: " + "; ".join(
        f"{v['id']}: {[n['target'] for n in v['nodes']]} {v['nodes'][0].get('failureSummary', '')}" for v in violations)


# Every largest-contentful-paint candidate and the layout shifts of the page, recorded from the start.
PAINT_OBSERVER = """
window.__lcp = []; window.__shifts = [];
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__lcp.push(e); })
  .observe({type: 'largest-contentful-paint', buffered: true});
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__shifts.push({value: e.value,
  sources: e.sources.map(s => s.node ? (s.node.nodeName + ' ' + (s.node.className || '')) : null)}); })
  .observe({type: 'layout-shift', buffered: true});
"""
# Is the page's LCP element (the last candidate) the banner's? Chromium reports an element inside a shadow
# root as null, so null counts as the banner's too: only an element of the page itself passes.
LCP_IN_BANNER = """() => {
  const last = window.__lcp[window.__lcp.length - 1], el = last && last.element;
  const host = document.querySelector('[data-tag-gateway]');
  return {inBanner: !el || host.contains(el) || el.getRootNode() !== document, size: last && last.size,
          element: el ? el.tagName + ' ' + (el.textContent || '').trim().slice(0, 40) : null};
}"""


def paints(browser, server, name: str, path: str, blank_page: bool = False):
    """The page's LCP verdict and layout shifts with the banner up, and the shifts of the same page for a
    visitor who has chosen (no banner): the difference is the banner's."""
    context, recorder = new_recorded_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.add_init_script(PAINT_OBSERVER)
        if blank_page:  # a page with almost nothing of its own: there the banner is the largest paint
            page.route("**/blank.html", lambda route: route.fulfill(content_type="text/html", body=(
                "<!doctype html><html lang='en'><head><meta name='viewport' content='width=device-width'><title>Blank"
                f"</title></head><body><p>Hi</p><script src='/c/{name}.js' async></script></body></html>")))
        shop = Shop(page, f"{server.url}/{name}", recorder).open(path)
        expect(shop.banner).to_be_visible()
        page.wait_for_timeout(600)  # the banner's paint is reported a frame or two after it shows
        lcp, shifts = page.evaluate(LCP_IN_BANNER), page.evaluate(SHIFTS)
        reject_all(page)
        shop.reload()
        page.wait_for_timeout(600)
        return lcp, shifts, page.evaluate(SHIFTS)
    finally:
        context.close()


SHIFTS = "() => window.__shifts.reduce((sum, e) => sum + e.value, 0)"


def test_the_lcp_check_sees_a_banner_that_is_the_largest_paint(browser, looks) -> None:
    """The measurement below can fail: on a page with one word, the banner is the largest paint."""
    lcp, _, _ = paints(browser, looks, "modal", "/blank.html", blank_page=True)
    assert lcp["inBanner"], lcp


# Chromium's LCP candidate for text is the block that holds it. Measured at 390x844 with the bundled English
# (14 px): the banner's whole first-layer text in one block painted about 23,700 px² (the bar: 25,800), more
# than the product and cart pages' largest element (their 20,286 px² "Demo shop" note). One block per
# sentence (banner.html.j2), the largest is the first sentence: 17,158 px² in the modal and box layouts,
# 12,265 px² in the bar; the pages' largest elements measure 20,286 to 40,595 px².
# The banner's text blocks at a phone's width: their font size and what each paints (its text's box).
TEXT_BLOCKS = """() => {
  const root = document.querySelector('[data-tag-gateway]').shadowRoot;
  return [...root.querySelectorAll('.tg-banner #tg-text p')].map(p => {
    const range = document.createRange(); range.selectNodeContents(p); const r = range.getBoundingClientRect();
    return {fontSize: parseFloat(getComputedStyle(p).fontSize), area: r.width * r.height};
  });
}"""


@pytest.mark.parametrize("path", ["/index.html", "/product.html", "/cart.html", "/thank-you.html",
                                  "/privacy.html", "/help.html", "/media.html"])
@pytest.mark.parametrize("name", ["modal", "box", "bar", "bar-top"])
def test_on_a_phone_the_banner_is_not_the_largest_paint_and_shifts_nothing(browser, looks, name, path) -> None:
    lcp, with_banner, without = paints(browser, looks, name, path)
    assert abs(with_banner - without) < 1e-4, f"the banner shifts {path}: {with_banner} (without it: {without})"
    assert not lcp["inBanner"], f"the banner is the LCP element on {path}: {lcp}"


@pytest.mark.parametrize("name", ["modal", "bar"])
def test_on_a_phone_the_text_is_one_readable_block_per_sentence_and_still_the_dialogs_description(
        browser, looks, name) -> None:
    context, shop = open_look(browser, looks, name, "/product.html", viewport=PHONE, is_mobile=True)
    try:
        expect(shop.banner).to_have_accessible_description(
            "We use cookies and similar technologies to measure our store and to show you relevant ads. "
            "Choose which ones you allow. You can change your mind at any time. Privacy policy")
        blocks = shop.page.evaluate(TEXT_BLOCKS)
        assert len(blocks) == 3, blocks
        assert all(b["fontSize"] >= 14 for b in blocks), blocks  # no smaller than before the split
        # Each block, the first sentence the largest, stays well below the page's own largest paint.
        assert max(b["area"] for b in blocks) < 18_000, blocks
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/product.html", "/cart.html"])
def test_on_a_phone_the_us_notice_is_not_the_largest_paint_either(browser, looks, path) -> None:
    """The notice at collection (notice.html.j2) is split like the banner: its English first sentence alone,
    160 characters, painted 26,150 px² in one block; cut in two, 15,167 px² at most."""
    context, recorder = new_recorded_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        visit_as(context, region="US-CA")
        page = context.new_page()
        page.add_init_script(PAINT_OBSERVER)
        Shop(page, f"{looks.url}/modal", recorder).open(path)
        expect(page.locator(".tg-notice")).to_be_visible()
        page.wait_for_timeout(600)
        assert all(size >= 14 for size in page.locator(".tg-notice-text p").evaluate_all(
            "ps => ps.map(p => parseFloat(getComputedStyle(p).fontSize))"))
        lcp = page.evaluate(LCP_IN_BANNER)
        assert not lcp["inBanner"], f"the notice is the LCP element on {path}: {lcp}"
    finally:
        context.close()

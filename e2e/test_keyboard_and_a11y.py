"""The banner works with the keyboard alone and has no axe-core violations."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from gateway.testing import reject_all

# Describes document's focused element, looking through (open) shadow roots.
FOCUS_INFO = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body || el === document.documentElement) {
    return {tag: el ? el.localName : null, text: '', inDialog: false, visible: false, isBody: true};
  }
  const dialog = el.closest('[role="dialog"], [role="alertdialog"], dialog');
  const rect = el.getBoundingClientRect();
  return {
    tag: el.localName,
    text: (el.getAttribute('aria-label') || el.textContent || '').trim(),
    inDialog: !!dialog,
    dialogName: dialog ? (dialog.getAttribute('aria-label') || '') : null,
    visible: rect.width > 0 && rect.height > 0,
    isBody: false,
  };
}"""

# A selector for the element whose shadow root holds the banner, for axe's include context.
BANNER_HOST_SELECTOR = """() => {
  const host = Array.from(document.querySelectorAll('body *'))
    .find(el => el.shadowRoot && el.shadowRoot.querySelector('[role="dialog"]'));
  if (!host) return null;
  const candidates = host.id ? ['#' + CSS.escape(host.id)] : [];
  for (const attr of host.attributes) {
    if (attr.name !== 'style' && attr.name !== 'class') candidates.push(host.localName + '[' + CSS.escape(attr.name) + ']');
  }
  candidates.push(host.localName);
  return candidates.find(sel => document.querySelectorAll(sel).length === 1) || null;
}"""


def test_keyboard_only_accept_all(shop, recorder):
    page = shop.page
    shop.open("/")
    expect(shop.banner).to_be_visible()

    focus = page.evaluate(FOCUS_INFO)
    assert focus["inDialog"], f"focus should start inside the banner, it is on {focus}"

    for _ in range(20):
        focus = page.evaluate(FOCUS_INFO)
        if focus["text"] == "Accept all":
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError(f"Tab never reached 'Accept all' (last focus: {focus})")
    before = shop.consent_events()
    page.keyboard.press("Enter")
    shop.wait_for_new_choice(before)

    expect(shop.banner).to_be_hidden()
    recorder.assert_fired("ga4")
    recorder.assert_fired("meta-pageview")
    recorder.assert_fired("tiktok-pageview")

    focus = page.evaluate(FOCUS_INFO)
    assert not focus["inDialog"], f"focus stayed in the closed banner: {focus}"
    assert focus["isBody"] or focus["visible"], f"focus is on an invisible element: {focus}"
    # The keyboard user can carry on through the page. Focus went back to the document
    # (nothing was focused before the banner opened), whose sequential focus point is now at
    # the banner's place at the end of <body>; the next Tab may first pass the browser's own UI.
    for _ in range(2):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_INFO)
        if not focus["isBody"]:
            break
    assert focus["visible"] and not focus["inDialog"], focus


def _assert_no_axe_violations(page, what, context=None):
    results = Axe().run(page, context=context)
    violations = results.response["violations"]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {node['target']}: {node.get('failureSummary', '')}" for node in v["nodes"])
        for v in violations
    )
    assert not violations, f"axe violations in the {what}:\n{report}"


def test_banner_has_no_axe_violations(shop):
    shop.open("/")
    expect(shop.banner).to_be_visible()
    host = shop.page.evaluate(BANNER_HOST_SELECTOR)
    assert host, "could not find a unique selector for the banner's shadow host"
    _assert_no_axe_violations(shop.page, "first layer", {"include": [[host]]})

    shop.button(shop.banner, "Customize").click()
    expect(shop.preferences).to_be_visible()
    _assert_no_axe_violations(shop.page, "preferences dialog", {"include": [[host]]})


@pytest.mark.parametrize("path", ["/", "/product.html", "/cart.html", "/thank-you.html", "/privacy.html", "/help.html"])
def test_example_store_pages_have_no_axe_violations(shop, path):
    shop.open(path)
    reject_all(shop.page)
    expect(shop.banner).to_be_hidden()
    _assert_no_axe_violations(shop.page, f"page {path}")

"""Whatever the store's stylesheet does, the banner stays readable and clickable."""

import pytest
from playwright.sync_api import expect

from gateway.testing import accept_all

HIDE_EVERYTHING = """
*:not(html):not(body) { display: none !important; visibility: hidden !important; opacity: 0 !important; }
"""

SHRINK_AND_BLANK_TEXT = """
body, div, section, aside, dialog, form, p, span, h1, h2, h3, label, button {
  font-size: 0 !important; line-height: 0 !important; color: transparent !important;
  letter-spacing: -1em !important; text-indent: -9999px !important;
}
button { background: transparent !important; border: 0 !important; width: 0 !important; height: 0 !important; padding: 0 !important; }
body > * { transform: scale(0) !important; filter: opacity(0) !important; }
"""

# Is `el` really there for a person: laid out, opaque, readable text, and the topmost
# element at its centre (looking through shadow roots)?
HOW_IT_LOOKS = """el => {
  const rect = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  let opacity = 1;
  for (let node = el; node; node = node.parentElement || (node.getRootNode() && node.getRootNode().host)) {
    opacity *= parseFloat(getComputedStyle(node).opacity);
  }
  let hit = document.elementFromPoint(rect.x + rect.width / 2, rect.y + rect.height / 2);
  while (hit && hit.shadowRoot) {
    const inner = hit.shadowRoot.elementFromPoint(rect.x + rect.width / 2, rect.y + rect.height / 2);
    if (!inner || inner === hit) break;
    hit = inner;
  }
  const alpha = (style.color.match(/rgba\\(.*,\\s*([\\d.]+)\\)/) || [null, '1'])[1];
  return {
    width: rect.width, height: rect.height, opacity,
    fontSize: parseFloat(style.fontSize), colorAlpha: parseFloat(alpha),
    visibility: style.visibility, onTop: !!hit && (hit === el || el.contains(hit)),
  };
}"""


@pytest.mark.parametrize("hostile_css", [HIDE_EVERYTHING, SHRINK_AND_BLANK_TEXT], ids=["hide-all", "shrink-text"])
def test_hostile_store_css_cannot_break_the_banner(shop, page, hostile_css):
    def store_css_plus_hostile_rules(route):
        response = route.fetch()
        route.fulfill(response=response, body=response.text() + hostile_css)

    page.route("**/store.css", store_css_plus_hostile_rules)
    shop.open("/")
    # The hostile rules did reach the store's own content.
    assert page.locator("main h1").evaluate(
        "h => getComputedStyle(h).display === 'none' || parseFloat(getComputedStyle(h).fontSize) === 0"
    )

    for name in ("Accept all", "Reject all", "Customize"):
        button = shop.button(shop.banner, name)
        expect(button).to_be_visible()
        looks = button.evaluate(HOW_IT_LOOKS)
        assert looks["width"] >= 24 and looks["height"] >= 24, (name, looks)
        assert looks["opacity"] > 0.9, (name, looks)
        assert looks["fontSize"] >= 12, (name, looks)
        assert looks["colorAlpha"] > 0.9, (name, looks)
        assert looks["visibility"] == "visible", (name, looks)
        assert looks["onTop"], (name, looks)

    accept_all(shop.page)  # a normal click: Playwright checks it is visible, stable and hit-testable
    expect(shop.banner).to_be_hidden()

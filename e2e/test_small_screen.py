"""On a phone-sized screen every control of the banner can still be reached and used."""

import pytest
from playwright.sync_api import expect

from .support import PREFERENCES_TITLE, Shop, new_recorded_context

IN_VIEWPORT = """el => {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}"""


@pytest.mark.parametrize(
    "viewport", [{"width": 360, "height": 640}, {"width": 640, "height": 360}], ids=["portrait", "landscape"]
)
def test_banner_and_preferences_fit_a_phone_screen(browser, gateway, viewport):
    context, recorder = new_recorded_context(browser, viewport=viewport)
    try:
        shop = Shop(context.new_page(), gateway.url, recorder).open("/")
        for name in ("Accept all", "Reject all", "Customize"):
            button = shop.button(shop.banner, name)
            button.scroll_into_view_if_needed()
            assert button.evaluate(IN_VIEWPORT), f"{name!r} cannot be brought on screen"

        shop.button(shop.banner, "Customize").click()
        expect(shop.preferences).to_be_visible()
        # A long dialog may scroll, but its title and every control must be reachable.
        title = shop.preferences.get_by_role("heading", name=PREFERENCES_TITLE)
        save = shop.button(shop.preferences, "Save choices")
        for what, element in (("the title", title), ("'Save choices'", save)):
            element.scroll_into_view_if_needed()
            assert element.evaluate(IN_VIEWPORT), f"{what} of the preferences cannot be brought on screen"
        shop.save_preferences(analytics=True)
        assert sorted(shop.consent()["categories"]) == ["analytics", "necessary"]
    finally:
        context.close()

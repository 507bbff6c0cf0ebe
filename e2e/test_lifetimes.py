"""How long a choice lasts, in the browser: acceptance and refusal expire on their own clocks (tokens
minted here with the server's secret at a past time), and a category added later asks again."""

from __future__ import annotations

import shutil
import time

from playwright.sync_api import expect

from gateway.testing import accept_all, earlier_choice

from .support import DEFAULT_CONFIG_DIR, Shop

CATEGORIES = ("necessary", "analytics", "marketing")


def test_refusal_and_acceptance_expire_on_their_own_clocks(tmp_path, gateway_factory, browser):
    from .support import new_recorded_context

    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    site = (configs / "site.yaml").read_text()
    (configs / "site.yaml").write_text(site.replace("  consent_max_age_days: 180\n",
                                                    "  acceptance_max_age_days: 180\n  refusal_max_age_days: 30\n"))
    server = gateway_factory(configs)
    cases = [(29, ("necessary",), "decided"), (31, ("necessary",), "undecided"),
             (31, CATEGORIES, "decided"), (181, CATEGORIES, "undecided")]
    for days, categories, expected in cases:
        context, recorder = new_recorded_context(browser)
        try:
            # A choice made `days` ago, signed with the server's secret (the kit's earlier_choice).
            earlier_choice(context, server.url, categories, secret=server.secret, config=configs, days_ago=days)
            shop = Shop(context.new_page(), server.url, recorder).open("/")
            assert shop.state() == expected, (days, categories)
            if expected == "undecided":
                expect(shop.banner).to_be_visible()
                recorder.assert_silent(page=shop.page)  # an expired acceptance grants nothing
        finally:
            context.close()


def test_a_category_added_later_asks_again(tmp_path, gateway_factory, context, page, recorder):
    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    server = gateway_factory(configs)
    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    shop.reload()
    assert shop.state() == "decided"

    site = configs / "site.yaml"
    site.write_text(site.read_text().replace("categories:\n", "categories:\n  preferences:\n    label: Preferences\n"
                                             "    description: Remembers your display settings.\n", 1))
    deadline = time.monotonic() + 10
    while '"preferences"' not in page.request.get(server.url + "/ui").text() and time.monotonic() < deadline:
        time.sleep(0.2)  # the gateway picks the edit up within a second
    shop.reload()
    assert shop.state() == "undecided"  # nobody bumped policy_version
    expect(shop.banner).to_be_visible()

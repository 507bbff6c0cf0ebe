"""site.cookie_name in a real browser: a store that names its consent cookie keeps its choice there, and
another store's `tg_consent` on the same host is neither taken for its own nor touched, even by a withdrawal."""

from __future__ import annotations

import shutil

from playwright.sync_api import expect

from gateway.testing import accept_all, earlier_choice, withdraw

from .support import DEFAULT_CONFIG_DIR, Shop

OTHER_STORES_TOKEN = "another-stores-choice"


def named_store(tmp_path):
    config = tmp_path / "tag_configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    site = config / "site.yaml"
    site.write_text(site.read_text().replace("site:\n", "site:\n  cookie_name: shop_a_consent\n", 1))
    return config


def test_a_named_cookie_holds_the_choice_and_leaves_another_stores_alone(tmp_path, gateway_factory, page, recorder,
                                                                         context):
    server = gateway_factory(named_store(tmp_path))
    context.add_cookies([{"name": "tg_consent", "value": OTHER_STORES_TOKEN, "url": server.url}])
    shop = Shop(page, server.url, recorder)

    shop.open("/")
    expect(shop.banner).to_be_visible()  # the other store's cookie is not this store's choice
    assert shop.state() == "undecided"
    recorder.assert_silent(wait_ms=0)
    accept_all(shop.page)
    recorder.assert_fired("ga4", once=True)
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    assert cookies["tg_consent"] == OTHER_STORES_TOKEN and cookies["shop_a_consent"].count(".") >= 2

    recorder.clear()
    shop.reload()  # the choice is read back from the named cookie: no banner, the tags fire
    assert shop.state() == "decided"
    expect(shop.banner).to_be_hidden()
    recorder.assert_fired("ga4", once=True)

    withdraw(shop.page, keep=["analytics"])
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    assert cookies["tg_consent"] == OTHER_STORES_TOKEN  # a withdrawal removes vendors' cookies, never another store's
    assert sorted(shop.consent()["categories"]) == ["analytics", "necessary"]
    shop.reload()
    assert shop.state() == "decided" and sorted(shop.consent()["categories"]) == ["analytics", "necessary"]


def test_the_kits_earlier_choice_uses_the_sites_cookie_name(tmp_path, gateway_factory, page, recorder, context):
    config = named_store(tmp_path)
    server = gateway_factory(config)
    earlier_choice(context, server.url, ["analytics"], config=config)
    assert {c["name"] for c in context.cookies()} >= {"shop_a_consent"}
    shop = Shop(page, server.url, recorder).open("/")
    assert shop.state() == "decided" and sorted(shop.consent()["categories"]) == ["analytics", "necessary"]
    recorder.assert_fired("ga4", once=True)

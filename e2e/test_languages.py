"""The banner in the visitor's language, in a real Chromium: from the page's lang attribute, then the
browser's languages, then the site's default; recorded in the language shown; no axe violations in any
bundled language (gateway/i18n.py, README "Languages")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from gateway import i18n

from .support import GatewayServer, Shop, new_recorded_context
from .test_keyboard_and_a11y import BANNER_HOST_SELECTOR

ANALYTICS = {"en": "Analytics", "de": "Statistik", "fr": "Statistiques", "es": "Analítica", "it": "Statistiche",
             "nl": "Statistieken"}
COUNTS = {"en": "Counts visits to improve the store.", "de": "Zählt Besuche, um den Shop zu verbessern.",
          "fr": "Compte les visites pour améliorer la boutique.", "es": "Cuenta las visitas para mejorar la tienda.",
          "it": "Conta le visite per migliorare il negozio.", "nl": "Telt bezoeken om de winkel te verbeteren."}
PAGE = "<!doctype html><html{lang}><head><meta charset='utf-8'><title>Shop</title></head>" \
       "<body><main><h1>Shop</h1><p>Products.</p></main><script src='/container.js' async></script></body></html>"


@pytest.fixture(scope="module")
def six(tmp_path_factory) -> GatewayServer:
    """A gateway offering the six bundled languages (English the default), and store pages in several."""
    root = tmp_path_factory.mktemp("languages")
    configs, store = root / "configs", root / "store"
    configs.mkdir()
    store.mkdir()
    (configs / "site.yaml").write_text(yaml.safe_dump({
        "site": {"name": "Six", "allowed_origins": ["http://127.0.0.1:*"], "policy_version": 1,
                 "privacy_policy_url": "/privacy.html", "auto_blocking": True},
        "categories": {"analytics": {"label": ANALYTICS, "description": COUNTS}},
        "banner": {"languages": list(i18n.BUNDLED)},
        "tags": [],
    }, allow_unicode=True))
    for name, lang in [*((code, f' lang="{code}"') for code in i18n.BUNDLED), ("nolang", ""), ("pt", ' lang="pt"'),
                       ("de-at", ' lang="de-AT"')]:
        (store / f"{name}.html").write_text(PAGE.format(lang=lang))
    (store / "embed-de.html").write_text(PAGE.format(lang=' lang="de"').replace(
        "<p>Products.</p>", "<iframe data-consent='analytics' data-src='/nolang.html' data-provider='Demo <b>Tube</b> {category}' "
                            "title='Demo' width='320' height='180'></iframe>"))
    server = GatewayServer(configs, store).start()
    yield server
    server.stop()


def banner(page, code: str):
    return page.get_by_role("dialog", name=i18n.bundled(code)["banner"]["title"])


def open_page(browser, server: GatewayServer, path: str, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(server.url + path)
    page.wait_for_function("() => window.tagGateway && tagGateway.state === 'undecided'")
    return context, page


def dialog_lang(page, selector: str) -> str:
    return page.evaluate("s => document.querySelector('[data-tag-gateway]').shadowRoot.querySelector(s).lang", selector)


def test_the_pages_lang_attribute_picks_the_language(browser, six) -> None:
    context, page = open_page(browser, six, "/de.html", locale="en-US")  # an English browser on a German page
    try:
        expect(banner(page, "de")).to_be_visible()
        expect(banner(page, "de").get_by_role("button", name="Alle ablehnen", exact=True)).to_be_visible()
        assert dialog_lang(page, ".tg-banner") == "de"
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/nolang.html", "/pt.html"])
def test_without_an_offered_page_language_the_browsers_language_decides(browser, six, path) -> None:
    """A page without lang, or in a language the site does not offer: the browser's de-AT gives de."""
    context, page = open_page(browser, six, path, locale="de-AT")
    try:
        expect(banner(page, "de")).to_be_visible()
        assert dialog_lang(page, ".tg-banner") == "de"
    finally:
        context.close()


def test_a_regional_page_language_falls_back_to_its_language(browser, six) -> None:
    context, page = open_page(browser, six, "/de-at.html", locale="fr-FR")
    try:
        expect(banner(page, "de")).to_be_visible()
    finally:
        context.close()


def test_nothing_offered_gives_the_default_language(browser, six) -> None:
    context, page = open_page(browser, six, "/pt.html", locale="pt-BR")
    try:
        expect(banner(page, "en")).to_be_visible()
        expect(banner(page, "en").get_by_role("button", name="Reject all", exact=True)).to_be_visible()
        assert dialog_lang(page, ".tg-banner") == "en"
    finally:
        context.close()


def test_the_record_holds_the_language_shown_and_later_pages_keep_it(browser, six) -> None:
    context, page = open_page(browser, six, "/nl.html")
    try:
        dutch = banner(page, "nl")
        dutch.get_by_role("button", name="Alles weigeren", exact=True).click()
        page.wait_for_function("() => tagGateway.state === 'decided'")
        consent_id = page.evaluate("() => tagGateway.consent.id")
        records = [json.loads(line) for line in six.consents("export", "--format", "jsonl").stdout.splitlines()]
        [record] = [r for r in records if r["consent_id"] == consent_id]
        assert record["language"] == "nl" and record["action"] == "reject_all"
        assert record["banner_texts"]["reject_all"] == "Alles weigeren"
        assert record["banner_texts"]["category.analytics"] == f"Statistieken: {COUNTS['nl']}"
        assert record["banner_texts"]["category.necessary"].startswith("Noodzakelijk: ")

        # The next page: the floating button and the preferences (GET /ui) are Dutch too.
        page.goto(six.url + "/nl.html")
        page.wait_for_function("() => tagGateway.state === 'decided'")
        fab = page.get_by_role("button", name="Privacy-instellingen", exact=True)
        fab.click()
        preferences = page.get_by_role("dialog", name="Privacyvoorkeuren")
        expect(preferences).to_be_visible()
        expect(preferences.get_by_role("checkbox", name="Statistieken", exact=True)).not_to_be_checked()
        expect(preferences.get_by_role("button", name="Sluiten", exact=True)).to_be_visible()
        assert dialog_lang(page, ".tg-prefs") == "nl"
    finally:
        context.close()


def _assert_no_axe_violations(page, what: str) -> None:
    host = page.evaluate(BANNER_HOST_SELECTOR)
    assert host, "could not find a unique selector for the banner's shadow host"
    violations = Axe().run(page, context={"include": [[host]]}).response["violations"]
    assert not violations, f"axe violations in the {what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in violations)


@pytest.mark.parametrize("code", i18n.BUNDLED)
def test_every_bundled_language_has_no_axe_violations(browser, six, code) -> None:
    context, page = open_page(browser, six, f"/{code}.html")
    try:
        texts = i18n.bundled(code)["banner"]
        expect(banner(page, code)).to_be_visible()
        assert dialog_lang(page, ".tg-banner") == code
        _assert_no_axe_violations(page, f"first layer ({code})")
        banner(page, code).get_by_role("button", name=texts["customize"], exact=True).click()
        preferences = page.get_by_role("dialog", name=texts["preferences_title"])
        expect(preferences).to_be_visible()
        expect(preferences.get_by_role("checkbox", name=ANALYTICS[code], exact=True)).to_be_visible()
        expect(preferences.get_by_role("button", name=texts["close"], exact=True)).to_be_visible()
        assert dialog_lang(page, ".tg-prefs") == code
        _assert_no_axe_violations(page, f"preferences dialog ({code})")
    finally:
        context.close()


def test_the_example_stores_english_pages_stay_english_for_a_german_browser(browser, gateway) -> None:
    """tag_configs/ offers en and de; its pages say lang="en", which wins over the browser's de-DE."""
    context, recorder = new_recorded_context(browser, locale="de-DE")
    try:
        shop = Shop(context.new_page(), gateway.url, recorder).open("/")
        expect(shop.banner).to_be_visible()
        assert dialog_lang(shop.page, ".tg-banner") == "en"
    finally:
        context.close()


def test_the_testing_kit_chooses_in_the_language_shown(browser, six) -> None:
    """A store's own tests with the kit (gateway.testing) work whatever language the banner is in: the
    helpers read the dialogs' lang and use that language's texts, with or without the site's config."""
    from gateway.testing import accept_all, choose, withdraw

    context, page = open_page(browser, six, "/nl.html")
    assert choose(page, ["analytics"])["categories"] == ["necessary", "analytics"]  # Dutch, no config given
    assert withdraw(page, config=six.config_dir)["categories"] == ["necessary"]      # Dutch, from the config
    context.close()
    context, page = open_page(browser, six, "/fr.html")
    assert accept_all(page, config=six.config_dir)["categories"] == ["necessary", "analytics"]
    context.close()


def test_the_placeholder_of_a_blocked_embed_speaks_the_dialogs_language(browser, six) -> None:
    context, page = open_page(browser, six, "/embed-de.html")
    box = page.locator("[data-tag-gateway-embed] .tg-embed")
    # The provider is the page's text, filled in once: neither markup nor a placeholder of ours.
    expect(box.locator("p")).to_have_text(
        "Dieser Inhalt stammt von Demo <b>Tube</b> {category} und erfordert Ihre Einwilligung für Statistik.")
    expect(box).to_have_attribute("lang", "de")
    box.get_by_role("button", name="Erlauben und laden", exact=True).click()
    expect(page.locator("iframe[title='Demo']")).to_have_attribute("src", six.url + "/nolang.html")
    assert page.evaluate("() => tagGateway.consent.categories") == ["necessary", "analytics"]
    context.close()

"""The banner's languages: bundled texts complete and lawful, configs merged and warned about, the
visitor's language picked on the server and recorded with the texts they saw (gateway/i18n.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from gateway import i18n, lint
from gateway.app import create_app
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.live_config import LiveConfig
from gateway.store import ConsentLog

from conftest import ROOT, SECRET, STORE_ORIGIN

LANGUAGES = ROOT / "gateway" / "languages"
SETTINGS = {"accent_color", "accent_text", "floating_button", "language", "layout", "position"}  # banner.<key> that are not texts


# -- the bundled texts --------------------------------------------------------------------------------

def test_six_languages_are_bundled_one_file_each() -> None:
    assert sorted(p.stem for p in LANGUAGES.glob("*.yaml")) == sorted(i18n.BUNDLED) == \
        ["de", "en", "es", "fr", "it", "nl"]


def test_every_text_the_templates_use_is_in_every_language_and_nothing_else() -> None:
    used = set()
    for template in (ROOT / "consent_ui").glob("*.j2"):
        text = template.read_text()
        used |= set(re.findall(r"\{\{\s*banner\.(\w+)", text))
        used |= set(re.findall(r"\{%-?\s*for \w+ in banner\.(\w+)", text))  # a text shown one sentence a block
    assert used - SETTINGS == set(i18n.TEXT_KEYS)
    for code in i18n.BUNDLED:
        data = yaml.safe_load((LANGUAGES / f"{code}.yaml").read_text("utf-8"))
        assert set(data) == {"banner", "necessary"}, code
        assert set(data["banner"]) == set(i18n.TEXT_KEYS), (code, set(data["banner"]) ^ set(i18n.TEXT_KEYS))
        assert set(data["necessary"]) == set(i18n.CATEGORY_KEYS), code
        assert all(isinstance(v, str) and v.strip() == v and v for v in [*data["banner"].values(),
                                                                         *data["necessary"].values()]), code


@pytest.mark.parametrize("code", [c for c in i18n.BUNDLED if c != "en"])
def test_each_language_is_translated_not_copied(code: str) -> None:
    english, other = i18n.bundled("en"), i18n.bundled(code)
    # French writes minutes as English does ("1 minute", "{n} minutes"): the same words, not a copy.
    alike = {("fr", "lifetime_minute"), ("fr", "lifetime_minutes")}
    same = [k for k in i18n.TEXT_KEYS if other["banner"][k] == english["banner"][k] and (code, k) not in alike]
    assert not same, f"{code} keeps English texts: {same}"
    assert other["necessary"]["label"] != english["necessary"]["label"]


@pytest.mark.parametrize("code", i18n.BUNDLED)
def test_bundled_texts_pass_the_schema_and_the_lint(code: str, tmp_path: Path) -> None:
    """Written out as a site's own overrides, each language loads: the schema's length limits, and the
    lint's rules (two different buttons; a `necessary` that speaks of no tracking) in its own words."""
    texts = i18n.bundled(code)
    (tmp_path / "site.yaml").write_text(yaml.safe_dump({
        "site": {"name": "S", "allowed_origins": ["https://s.example"], "policy_version": 1, "privacy_policy_url": "/p"},
        "categories": {"necessary": {"label": texts["necessary"]["label"], "description": texts["necessary"]["description"]}},
        "banner": {"language": code, "texts": {code: texts["banner"]}},
    }, allow_unicode=True))
    config = load_config(tmp_path)
    assert config.texts[code] == texts["banner"] and not config.warnings
    words = lint.language_words(code)
    assert lint.mentions_tracking(texts["necessary"]["description"], words) is None


def test_the_english_defaults_are_the_bundled_english() -> None:
    from gateway.config import DEFAULT_BANNER, NECESSARY_DEFAULT

    assert {k: DEFAULT_BANNER[k] for k in i18n.TEXT_KEYS} == i18n.bundled("en")["banner"]
    assert NECESSARY_DEFAULT == i18n.bundled("en")["necessary"]


# -- picking a language -------------------------------------------------------------------------------

@pytest.mark.parametrize("candidates,expected", [
    (["de"], "de"),
    (["de-AT"], "de"),           # the region falls back to its language
    (["DE-at"], "de"),
    (["fr", "de-CH"], "de"),     # an unoffered language is skipped, not a stop
    (["", None, "<script>", "de"], "de"),
    (["fr", "es"], "en"),        # nothing offered: the default
    ([], "en"),
])
def test_pick_returns_an_offered_language(candidates, expected) -> None:
    assert i18n.pick(("en", "de"), candidates, "en") == expected


def test_pick_matches_regional_offers_by_language() -> None:
    assert i18n.pick(("en", "pt-BR"), ["pt"], "en") == "pt-BR"
    assert i18n.pick(("en", "pt-BR", "pt-PT"), ["pt-PT"], "en") == "pt-PT"


def test_accept_language_is_read_by_quality() -> None:
    assert i18n.accept_language("fr;q=0.5, de-AT, en;q=0.8, *;q=0.1, it;q=0") == ["de-AT", "en", "fr"]
    assert i18n.accept_language("x" * 5000) == [] and i18n.accept_language(None) == []
    assert i18n.accept_language("de;q=abc, nl") == ["nl"]


# -- loading ------------------------------------------------------------------------------------------

SITE = "site:\n  name: S\n  allowed_origins: [https://s.example]\n  policy_version: 1\n  privacy_policy_url: /p\n"


def load(tmp_path: Path, text: str):
    (tmp_path / "site.yaml").write_text(SITE + text)
    return load_config(tmp_path)


def test_without_languages_a_site_offers_its_one_language_as_before(tmp_path: Path) -> None:
    config = load(tmp_path, "banner: {title: 'Cookies?'}\n")
    assert config.languages == ("en",) and config.banner["title"] == "Cookies?"
    assert config.banner["accept_all"] == "Accept all" and not config.warnings


def test_a_german_title_alone_gives_a_wholly_german_banner(tmp_path: Path) -> None:
    """The issue's case: banner.language de and only a title used to give a half-English banner."""
    config = load(tmp_path, "banner: {language: de, title: 'Cookies gefällig?'}\n")
    assert config.languages == ("de",) and not config.warnings
    assert config.banner["title"] == "Cookies gefällig?"
    assert config.banner["accept_all"] == "Alle akzeptieren" and config.banner["close"] == "Schließen"
    assert config.categories[0].label == "Notwendig"


def test_a_language_without_bundled_texts_warns_naming_what_is_missing(tmp_path: Path) -> None:
    config = load(tmp_path, "banner: {language: pt, title: As suas escolhas}\n")
    [warning] = config.warnings
    assert "site.yaml:6: banner.language: warning: 'pt' has no bundled texts" in str(warning)
    assert "text, privacy_link_text, accept_all, reject_all," in str(warning)
    assert "notice_text" not in str(warning)  # no opt-out region: the US texts are never shown
    assert config.banner["title"] == "As suas escolhas" and config.banner["accept_all"] == "Accept all"


def test_the_us_texts_are_needed_only_with_an_opt_out_region(tmp_path: Path) -> None:
    config = load(tmp_path, "regions: {default: opt_out}\nbanner: {language: pt, title: As suas escolhas}\n")
    assert "notice_text, do_not_sell, opt_out_honored, privacy_choices" in str(config.warnings[0])


def test_flat_texts_are_the_default_languages_and_texts_the_others(tmp_path: Path) -> None:
    config = load(tmp_path, "banner:\n  languages: [en, de, fr]\n  title: Cookies?\n"
                            "  texts: {de: {title: 'Kekse?'}}\n"
                            "categories:\n  ads: {label: {en: Ads, de: Werbung, fr: Publicité},"
                            " description: {en: Ads., de: Werbung., fr: Publicité.}}\n")
    assert config.languages == ("en", "de", "fr") and not config.warnings
    assert [config.texts[c]["title"] for c in config.languages] == ["Cookies?", "Kekse?", i18n.bundled("fr")["banner"]["title"]]
    assert config.banner_in("de")["reject_all"] == "Alle ablehnen" and config.banner_in("de")["language"] == "de"
    assert config.banner_in("xx")["language"] == "en"  # not offered: the default, never the request's text
    assert [c.label for c in config.categories_in("fr")] == ["Nécessaires", "Publicité"]


def test_the_first_listed_language_is_the_default(tmp_path: Path) -> None:
    config = load(tmp_path, "banner: {languages: [nl, en]}\n")
    assert config.language == "nl" and config.banner["accept_all"] == "Alles accepteren"


def test_a_regional_language_starts_from_its_bundled_language(tmp_path: Path) -> None:
    config = load(tmp_path, "banner: {language: de-CH}\n")
    assert config.banner["reject_all"] == "Alle ablehnen" and config.language == "de-CH" and not config.warnings


def test_a_category_with_one_text_for_several_languages_is_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, "banner: {languages: [en, de]}\ncategories:\n  ads: {label: Ads, description: {en: Ads.}}\n")
    assert sorted(str(w).split(": warning: ")[1][:40] for w in config.warnings) == [
        "has no text for de: visitors reading it ", "is one text for every offered language ("]
    assert config.categories_in("de")[1].description == "Ads."


def test_a_broken_language_setting_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, "banner: {languages: de, texts: {de: [x]}}\ncategories:\n  ads: {label: {de: 5}, description: x}\n")
    assert len(raised.value.problems) == 3 and not any("could not be checked" in str(p) for p in raised.value.problems)


# -- serving: GET /consent, GET /ui, POST /consent --------------------------------------------------------

CALIFORNIA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}


@pytest.fixture
def served(tmp_path: Path):
    """The example store's config (English and German), served with a consent log of its own."""
    live = LiveConfig.load(ROOT / "tag_configs")
    with ConsentLog.open(f"sqlite:///{tmp_path / 'consents.sqlite3'}") as log, \
            TestClient(create_app(live, SECRET, log, watch=False), base_url="http://gateway.test",
                       client=("127.0.0.1", 5000)) as client:
        yield client, log


def ask(client, query="", **headers):
    return client.get("/consent" + query, headers={"Origin": STORE_ORIGIN, **headers}).json()


def test_the_pages_lang_decides_then_the_browsers_then_the_default(served) -> None:
    client, _ = served
    german = ask(client, "?lang=de", **{"Accept-Language": "en-US,en"})
    assert german["lang"] == "de" and german["fab"] == "Datenschutz-Einstellungen"
    assert 'lang="de"' in german["ui"] and "Alle ablehnen" in german["ui"] and "Statistik" in german["ui"]
    assert 'aria-label="Schließen"' in german["ui"] and "Reject all" not in german["ui"]
    assert ask(client, "?lang=en", **{"Accept-Language": "de-AT"})["lang"] == "en"       # the page wins
    from_browser = ask(client, "?lang=", **{"Accept-Language": "fr-FR,de-AT;q=0.9,en;q=0.5"})
    assert from_browser["lang"] == "de" and "Alle akzeptieren" in from_browser["ui"]
    english = ask(client, "?lang=fr", **{"Accept-Language": "es"})
    assert english["lang"] == "en" and "fab" not in english and 'lang="en"' in english["ui"]


def test_a_strange_lang_is_never_echoed(served) -> None:
    client, _ = served
    answer = ask(client, '?lang="><img src=x onerror=alert(1)>')
    assert answer["lang"] == "en" and "onerror" not in answer["ui"]


def test_the_opt_out_notice_is_in_the_visitors_language(served) -> None:
    client, _ = served
    answer = ask(client, "?lang=de", **CALIFORNIA)
    assert "Meine personenbezogenen Daten nicht verkaufen oder weitergeben" in answer["notice"]
    assert 'lang="de"' in answer["notice"] and 'aria-label="Schließen"' in answer["notice"]


def test_get_ui_renders_the_language_named(served) -> None:
    client, _ = served
    german, english = client.get("/ui?lang=de"), client.get("/ui?lang=xx")
    assert "Auswahl speichern" in german.text and "Save choices" in english.text
    assert german.headers["etag"] != english.headers["etag"]
    assert client.get("/ui?lang=de", headers={"If-None-Match": german.headers["etag"]}).status_code == 304
    assert client.get("/ui?lang=%3Cb%3E").text == client.get("/ui").text


def test_the_record_holds_the_language_shown_and_its_texts(served) -> None:
    client, log = served
    german = client.post("/consent", json={"categories": ["analytics"], "lang": "de"},
                         headers={"Origin": STORE_ORIGIN, **CALIFORNIA}).json()
    [record] = log.show(german["consent"]["id"])
    texts = log.banner_text_versions()[record.banner_texts_hash]
    assert record.language == "de"
    assert texts["accept_all"] == "Alle akzeptieren" and texts["category.analytics"].startswith("Statistik: ")
    assert texts["do_not_sell"] == "Meine personenbezogenen Daten nicht verkaufen oder weitergeben"
    for sent in ("fr", "<b>x</b>", None):
        body = {"categories": [], **({"lang": sent} if sent else {})}
        answer = client.post("/consent", json=body, headers={"Origin": STORE_ORIGIN}).json()
        [record] = log.show(answer["consent"]["id"])
        assert record.language == "en"  # what was shown: the default, never the text sent
        assert log.banner_text_versions()[record.banner_texts_hash]["accept_all"] == "Accept all"


def test_a_lang_that_is_not_text_is_refused(served) -> None:
    client, _ = served
    response = client.post("/consent", json={"categories": [], "lang": ["de"]}, headers={"Origin": STORE_ORIGIN})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_body"


# -- the banner's text, one block per sentence (README "The banner's look": no large paint on a phone) -----

def test_texts_split_into_sentences_keep_every_word_and_abbreviations_whole() -> None:
    for code in i18n.BUNDLED:
        for key in ("text", "notice_text"):
            text = i18n.bundled(code)["banner"][key]
            blocks = i18n.text_blocks(text)
            assert " ".join(blocks) == " ".join(text.split()), (code, blocks)  # every word, in order
            assert len(blocks) >= 3 and all(len(b) <= i18n.LONGEST_BLOCK for b in blocks), (code, blocks)
        assert len(i18n.sentences(i18n.bundled(code)["banner"]["text"])) == 3, code
    assert i18n.sentences("Wir nutzen z. B. Cookies, usw. Das war's! ¿Vale? Sí.") == \
        ["Wir nutzen z. B. Cookies, usw.", "Das war's!", "¿Vale?", "Sí."]
    assert i18n.sentences("según las leyes de EE. UU. Puede excluirse.") == ["según las leyes de EE. UU. Puede excluirse."]
    assert i18n.sentences("Version 2.0 is out. see below") == ["Version 2.0 is out. see below"]
    assert i18n.sentences("   ") == [""] == i18n.text_blocks("")  # still one block, for the privacy link
    # A long sentence is cut at the clause mark nearest its middle, else at the space nearest it.
    assert i18n.text_blocks("Aaaa bbbb, cccc dddd eeee ffff gggg hhhh.", longest=30) == \
        ["Aaaa bbbb, cccc dddd", "eeee ffff gggg hhhh."]
    assert i18n.text_blocks("Aaaa bbbb cccc dddd, eeee ffff gggg hhhh.", longest=30) == \
        ["Aaaa bbbb cccc dddd,", "eeee ffff gggg hhhh."]
    assert i18n.text_blocks("x" * 150) == ["x" * 150]  # one word: nothing to cut at

"""The lint for the law and against dark patterns (gateway/lint.py).

Each rule's refusal is pinned by an invalid sample under tests/samples/invalid/ (test_config_samples.py);
here: the contrast maths against WCAG's known values, the word lists, the vendor-host warning, and what the
templates guarantee so that no config key is needed (no pre-ticked optional category, "Reject all" on the
first layer as the same button as "Accept all", the accent's text colour in the CSS).
"""

from __future__ import annotations

import colorsys
import os
import dataclasses
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway import lint
from gateway.config import load_config
from gateway.container import render_dialogs, render_fab
from gateway.errors import ConfigError
from gateway.vendors import PURPOSES, TRACKING_PURPOSES, VENDORS

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "consent_ui"
SITE = """site:
  name: Shop
  allowed_origins: [https://shop.example]
  policy_version: 1
  privacy_policy_url: /privacy
categories:
  analytics: {label: Analytics, description: Counts visits.}
  marketing: {label: Marketing, description: Lets ad partners measure our ads.}
"""


def _config(tmp_path: Path, extra: str = ""):
    (tmp_path / "config.yaml").write_text(SITE + extra)
    return load_config(tmp_path)


# --- contrast (WCAG 2.x relative luminance and contrast ratio) -------------------------------------

@pytest.mark.parametrize("a,b,expected", [
    ("#777777", "#ffffff", 4.48),   # WCAG's own example of a grey that just fails AA
    ("#777", "#fff", 4.48),         # short hex
    ("#767676", "#ffffff", 4.54),   # the lightest grey that passes on white
    ("#000000", "#ffffff", 21.0),
    ("#ffffff", "#000000", 21.0),   # order does not matter
    ("#1f4fd1", "#1f4fd1", 1.0),
    ("#ff0000", "#ffffff", 4.0),
    ("#0000ff", "#ffffff", 8.59),
])
def test_contrast_ratio_matches_known_wcag_values(a: str, b: str, expected: float) -> None:
    assert round(lint.contrast_ratio(a, b), 2) == expected


def test_relative_luminance_bounds() -> None:
    assert lint.relative_luminance("#000") == 0 and lint.relative_luminance("#fff") == pytest.approx(1)


def test_a_failing_ratio_is_never_shown_as_passing() -> None:
    assert lint.contrast_ratio("#777", "#fff") < 4.5 and lint.shown_ratio(lint.contrast_ratio("#777", "#fff")) == "4.47:1"
    assert lint.shown_ratio(21.0) == "21.00:1"


@pytest.mark.parametrize("accent,text", [
    ("#1f4fd1", "#ffffff"),   # the default: white, as before
    ("#f5c542", "#1b1d22"),   # the yellow: 1.62:1 with white, near-black reads
    ("#ffffff", "#1b1d22"),
    ("#000000", "#ffffff"),
])
def test_button_text_is_whichever_of_white_or_near_black_reads_better(accent: str, text: str) -> None:
    assert lint.text_on_accent(accent) == text
    other = "#1b1d22" if text == "#ffffff" else "#ffffff"
    assert lint.contrast_ratio(text, accent) >= lint.contrast_ratio(other, accent)


def test_the_suggested_colour_passes_and_keeps_the_hue() -> None:
    for colour in ("#f5c542", "#9db7ff", "#808080", "#ff00ff", "#00ff00"):
        better = lint.passing_colour(colour, "#ffffff")
        assert lint.contrast_ratio(better, "#ffffff") >= 4.5
        assert lint.relative_luminance(better) < lint.relative_luminance(colour)  # darker on a light background
        hue = colorsys.rgb_to_hls(*(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))[0]
        new = colorsys.rgb_to_hls(*(int(better[i:i + 2], 16) / 255 for i in (1, 3, 5)))[0]
        assert abs(hue - new) < 0.02 or colour == "#808080"
    assert lint.passing_colour("#1f4fd1", "#ffffff") == "#1f4fd1"  # already passing: unchanged
    lighter = lint.passing_colour("#1f4fd1", "#1d2027")  # on a dark background it steps lighter
    assert lint.contrast_ratio(lighter, "#1d2027") >= 4.5 and lint.relative_luminance(lighter) > lint.relative_luminance("#1f4fd1")


def test_every_accent_the_lint_accepts_gives_buttons_readable_text() -> None:
    """Links on white need the accent at 4.5:1, so its button text (white or near-black) reaches it too."""
    rng = random.Random(10)
    for _ in range(2000):
        accent = "#%06x" % rng.randrange(0x1000000)
        if lint.contrast_ratio(accent, "#ffffff") >= 4.5:
            assert lint.contrast_ratio(lint.text_on_accent(accent), accent) >= 4.5, accent


def test_the_lint_knows_the_colours_the_css_uses() -> None:
    """The lint checks each theme's accent against that theme's background: the colours fab.html.j2 sets as
    --tg-* on :host, which banner.css and the notice use (no fixed colour for text or background there)."""
    fab = (UI / "fab.html.j2").read_text()
    assert f";--tg-bg:#fff;--tg-fg:{lint.NEAR_BLACK}\"" in fab
    assert f";--tg-bg:{lint.DARK_BACKGROUND};--tg-fg:{lint.DARK_TEXT}\"" in fab
    for css in ((UI / "banner.css").read_text(), (UI / "notice.html.j2").read_text()):
        assert "color: var(--tg-fg); background: var(--tg-bg);" in css
        assert "a { color: var(--tg-accent);" in css
        assert "prefers-color-scheme" not in css  # the theme is the configuration's (fab.html.j2), not the OS's
    assert lint.contrast_ratio(lint.DARK_TEXT, lint.DARK_BACKGROUND) >= 4.5
    assert lint.contrast_ratio(lint.NEAR_BLACK, lint.LIGHT_BACKGROUND) >= 4.5
    assert lint.LIGHT_BACKGROUND == "#ffffff"


@pytest.mark.parametrize("accent", ["#1f4fd1", "#000000", "#5b2a86", "#0b6e4f", "#f5c542", "#767676", "#123"])
def test_the_dark_accent_reads_on_the_dark_background_and_keeps_the_hue(accent: str) -> None:
    dark = lint.dark_accent(accent)
    assert lint.contrast_ratio(dark, lint.DARK_BACKGROUND) >= 4.5, (accent, dark)
    assert lint.contrast_ratio(lint.text_on_accent(dark), dark) >= 4.5, (accent, dark)  # the buttons' text
    if lint.contrast_ratio(accent, lint.DARK_BACKGROUND) >= 4.5:
        assert dark == accent  # an accent that already reads there is kept
    elif accent != "#000000":
        hue = colorsys.rgb_to_hls(*lint._rgb(accent))[0]
        assert abs(colorsys.rgb_to_hls(*lint._rgb(dark))[0] - hue) < 0.02, (accent, dark)


def test_each_theme_renders_only_its_colours(tmp_path: Path) -> None:
    dark_accent = lint.dark_accent("#1f4fd1")
    light = render_fab(_config(tmp_path))
    assert ":host{--tg-accent:#1f4fd1;--tg-accent-text:#ffffff;--tg-bg:#fff;--tg-fg:#1b1d22}" in light
    assert dark_accent not in light and "prefers-color-scheme" not in light
    dark = render_fab(_config(tmp_path, "banner:\n  theme: dark\n"))
    assert f":host{{--tg-accent:{dark_accent};--tg-accent-text:#1b1d22;--tg-bg:#1d2027;--tg-fg:#eceef2}}" in dark
    assert "#1f4fd1" not in dark and "prefers-color-scheme" not in dark
    auto = render_fab(_config(tmp_path, "banner:\n  theme: auto\n"))
    assert auto.startswith("<style>:host{--tg-accent:#1f4fd1;")
    assert f"@media (prefers-color-scheme:dark){{:host{{--tg-accent:{dark_accent};" in auto
    owned = render_fab(_config(tmp_path, "banner:\n  theme: auto\n  dark_accent_color: \"#9db7ff\"\n"))
    assert "{:host{--tg-accent:#9db7ff;--tg-accent-text:#1b1d22;" in owned


def test_the_floating_buttons_side_and_the_layout_classes_are_rendered(tmp_path: Path) -> None:
    assert ".tg-fab{left:auto;right:16px}" not in render_fab(_config(tmp_path))
    moved = render_fab(_config(tmp_path, "banner:\n  fab_position: bottom-right\n"))
    assert moved.index(".tg-fab{left:auto;right:16px}") > moved.index(".tg-fab{position:fixed")  # after the base rule
    assert 'class="tg-banner tg-modal"' in render_dialogs(_config(tmp_path))
    assert 'class="tg-banner tg-box tg-bottom-right"' in render_dialogs(_config(tmp_path, "banner:\n  layout: box\n"))
    assert 'class="tg-banner tg-bar tg-top"' in render_dialogs(_config(tmp_path, "banner:\n  layout: bar\n  position: top\n"))
    assert 'class="tg-secondary" data-tg="customize"' in render_dialogs(_config(tmp_path))


def test_a_light_theme_with_a_dark_accent_is_warned_about_and_its_light_accent_is_checked(tmp_path: Path) -> None:
    config = _config(tmp_path, "banner:\n  dark_accent_color: \"#1f4fd1\"\n")  # would fail on the dark background
    assert any("dark_accent_color: warning: the light theme never shows" in str(w) for w in config.warnings)
    with pytest.raises(ConfigError, match="white background"):
        _config(tmp_path, "banner:\n  theme: auto\n  accent_color: \"#f5c542\"\n")
    assert _config(tmp_path, "banner:\n  theme: dark\n  accent_color: \"#f5c542\"\n").banner["dark_accent"] == "#f5c542"


# --- the accent's text colour, rendered and used ----------------------------------------------------

def test_the_container_sets_the_text_colour_beside_the_accent_and_the_buttons_use_it(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert config.banner["accent_text"] == "#ffffff"
    assert ":host{--tg-accent:#1f4fd1;--tg-accent-text:#ffffff;" in render_fab(config)
    # A light accent (refused by the link rule today, but the computation stands on its own).
    light = dataclasses.replace(config, banner={**config.banner, "accent_color": "#f5c542",
                                                "accent_text": lint.text_on_accent("#f5c542")})
    assert "--tg-accent-text:#1b1d22" in render_fab(light)
    css = (UI / "banner.css").read_text()
    button = re.search(r"^\.tg-actions button \{([^}]*)\}", css, re.M).group(1)  # the base rule, not a layout's
    assert "background: var(--tg-accent)" in button and "color: var(--tg-accent-text, #fff)" in button
    assert "#fff" not in re.sub(r"var\(--tg-accent-text, #fff\)", "", button)  # no fixed white text on the accent


def test_the_example_store_passes_the_lint_without_warnings() -> None:
    config = load_config(ROOT / "tag_configs")
    assert config.warnings == () or all("warning:" in str(w) and "necessary" not in str(w) for w in config.warnings)
    assert lint.contrast_ratio(config.banner["accent_color"], "#ffffff") >= 4.5


# --- what the templates guarantee: no key could configure these dark patterns -----------------------

class _Elements(HTMLParser):
    """Every start tag with its attributes and the classes of the elements around it."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "path"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict, tuple[str, ...]]] = []
        self.stack: list[tuple[str, str]] = []
        self.text: dict[int, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.found.append((tag, attrs, tuple(c for _, c in self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, attrs.get("class") or ""))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.found:
            self.text[len(self.found) - 1] = self.text.get(len(self.found) - 1, "") + data


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def test_no_optional_category_is_pre_ticked_in_the_preferences(tmp_path: Path) -> None:
    """The config has no key for a default-on category: the template renders every optional switch unchecked
    (the runtime ticks only what the visitor allowed). EDPB taskforce 2023: pre-ticked boxes; CJEU Planet49."""
    for config in (_config(tmp_path), load_config(ROOT / "tag_configs")):
        inputs = [attrs for tag, attrs, _ in _parse(render_dialogs(config)).found if tag == "input"]
        assert [a["data-category"] for a in inputs] == list(config.category_keys)
        for attrs in inputs:
            if attrs["data-category"] == "necessary":
                assert "checked" in attrs and "disabled" in attrs
            else:
                assert "checked" not in attrs and "disabled" not in attrs, attrs


def test_reject_all_is_on_the_first_layer_as_the_same_button_as_accept_all(tmp_path: Path) -> None:
    """"No reject on the first layer" and "reject is a link while accept is a button" (EDPB taskforce 2023)
    cannot be configured: banner.html.j2 renders both as <button> in one .tg-actions row, styled alike."""
    config = _config(tmp_path)
    parsed = _parse(render_dialogs(config))
    first_layer = [(i, tag, attrs) for i, (tag, attrs, around) in enumerate(parsed.found)
                   if "tg-banner" in " ".join(around) and attrs.get("data-tg") in ("accept", "reject", "customize")]
    by_action = {attrs["data-tg"]: (i, tag, attrs) for i, tag, attrs in first_layer}
    (ai, accept_tag, accept), (ri, reject_tag, reject) = by_action["accept"], by_action["reject"]
    assert accept_tag == reject_tag == "button"
    assert {k: v for k, v in accept.items() if k != "data-tg"} == {k: v for k, v in reject.items() if k != "data-tg"}
    assert parsed.found[ai][2] == parsed.found[ri][2] and parsed.found[ai][2][-1] == "tg-actions"
    assert parsed.text[ai].strip() == config.banner["accept_all"] and parsed.text[ri].strip() == config.banner["reject_all"]
    # One rule styles every first-layer choice button; none is a link.
    assert not any(tag == "a" and attrs.get("data-tg") for tag, attrs, _ in parsed.found)
    css = (UI / "banner.css").read_text()
    assert ".tg-actions button {" in css and "[data-tg=" not in css


# --- rule 1: vendor units state what they are for -----------------------------------------------------

def test_every_vendor_unit_states_a_purpose_that_needs_consent() -> None:
    assert set(PURPOSES) >= TRACKING_PURPOSES
    for key, vendor in VENDORS.items():
        assert vendor.purposes and set(vendor.purposes) <= TRACKING_PURPOSES, key


def test_a_script_or_image_from_a_vendor_host_in_necessary_is_a_warning_not_a_refusal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, """tags:
  - id: fb-lib
    category: necessary
    trigger: {type: page_view}
    script: {src: "https://connect.facebook.net/en_US/fbevents.js"}
  - id: fb-noscript
    category: necessary
    trigger: {type: page_view}
    image: {url: "https://www.facebook.com/tr?id=1234567890&ev=PageView"}
  - id: captcha
    category: necessary
    trigger: {type: page_view}
    script: {src: "https://www.google.com/recaptcha/api.js"}
  - id: fb-lib-with-consent
    category: marketing
    trigger: {type: page_view}
    script: {src: "https://connect.facebook.net/en_US/fbevents.js"}
""")
    warnings = [str(w) for w in config.warnings]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("config.yaml:") and "tags[0].script.src: warning: this script in `necessary` loads from a host of Meta Pixel (meta_pixel, advertising)" in warnings[0]
    assert "tags[1].image.url: warning: this image in `necessary`" in warnings[1]
    assert lint.vendor_of_url("https://www.google.com/recaptcha/api.js") is None          # www.google.com/ccm/ only
    assert lint.vendor_of_url("https://www.googletagmanager.com/gtag/js?id=G-X") == "ga4"
    assert lint.vendor_of_url("https://www.googletagmanager.com/gtag/js?id=AW-123") == "google_ads"
    assert lint.vendor_of_url("https://sub.analytics.tiktok.com/i18n/pixel/events.js") == "tiktok_pixel"
    assert lint.vendor_of_url("not a url") is None


def test_a_lint_refusal_sits_beside_schema_problems_of_the_same_file(tmp_path: Path) -> None:
    """Parts that fail the schema are not linted again; the rest still is, in the same report (a vendor tag
    in `necessary` is refused whatever else is wrong with it)."""
    with pytest.raises(ConfigError) as raised:
        _config(tmp_path, """banner:
  accent_color: "#f5c542"
  reject_all: ""
tags:
  - {id: meta, category: necessary, trigger: {type: page_view}, meta_pixel: {pixel_id: "1234567890"}}
  - {id: bad, category: necessary, trigger: {type: pageview}, meta_pixel: {pixel_id: "1234567890"}}
""")
    lines = [str(p) for p in raised.value.problems]
    assert [line.split(": ")[1] for line in lines] == ["banner.accent_color", "banner.reject_all", "tags[0].category",
                                                       "tags[1].category", "tags[1].trigger.type"]


# --- rule 2: the word lists -----------------------------------------------------------------------------

EN = lint.language_words("en")


@pytest.mark.parametrize("text,word", [
    ("Strictly necessary for our partners.", "necessary"),
    ("Essential statistics", "Essential"),
    ("Required to show you relevant offers.", "Required"),
    ("Not necessary for the store.", None),
    ("Not strictly necessary, but it helps.", None),
    ("This isn't required.", None),
    ("Never essential.", None),
    ("Your consent is required for this.", None),      # the consent is required, not the processing
    ("Unnecessary for checkout; we use it if you agree.", None),  # whole words only
    ("It does not necessarily track you.", None),
    ("We do not sell your data. Necessary for ads.", "Necessary"),  # a negation in another clause counts not
])
def test_english_necessity_words(text: str, word: str | None) -> None:
    assert lint.claims_necessity(text, EN) == word


@pytest.mark.parametrize("language,text,word", [
    ("de", "Für Werbepartner unbedingt erforderlich.", "erforderlich"),
    ("de-AT", "Technisch nicht notwendige Cookies.", None),
    ("fr", "Ces cookies sont nécessaires à nos partenaires.", "nécessaires"),
    ("fr", "Ce n'est pas nécessaire au site.", None),
    ("es", "No es necesario para la tienda.", None),
    ("es", "Imprescindible para la publicidad.", "Imprescindible"),
    ("it", "Strettamente necessari per la pubblicità.", "necessari"),
    ("it", "Non necessari per il sito.", None),
    ("nl", "Noodzakelijk voor onze advertentiepartners.", "Noodzakelijk"),
    ("nl", "Niet noodzakelijk voor de winkel.", None),
])
def test_necessity_words_in_other_languages(language: str, text: str, word: str | None) -> None:
    assert lint.claims_necessity(text, lint.language_words(language)) == word


@pytest.mark.parametrize("language,text,word", [
    ("en", "Cart, checkout, security and personalised ads.", "personalised ads"),
    ("en", "Cart, checkout and security.", None),
    ("en", "Keeps the shop running; no adsorption.", None),
    ("de", "Warenkorb und Werbemessung.", "Werbemessung"),
    ("fr", "Panier et mesure d'audience.", "mesure d'audience"),
    ("es", "Carrito y publicidad.", "publicidad"),
    ("it", "Carrello e profilazione.", "profilazione"),
    ("nl", "Winkelwagen en advertenties.", "advertenties"),
])
def test_tracking_words_for_the_necessary_category(language: str, text: str, word: str | None) -> None:
    assert lint.mentions_tracking(text, lint.language_words(language)) == word


def test_a_language_without_word_lists_is_not_checked() -> None:
    assert lint.language_words("pt-BR") is None and lint.language_words(None) is None
    assert set(lint.WORDS) == {"en", "de", "fr", "es", "it", "nl"}
    for words in lint.WORDS.values():
        assert set(words) == {"necessary", "tracking", "negation", "consent"}


# --- live reload: a lint refusal is a problem like any other -------------------------------------------

def test_a_refused_edit_keeps_serving_the_last_good_config(live, client, config_dir, caplog) -> None:
    good = client.get("/container.js")
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace('accent_color: "#1f4fd1"', 'accent_color: "#f5c542"'))
    stat = site.stat()
    os.utime(site, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert live.reload_if_changed() is False
    assert client.get("/container.js").content == good.content
    assert client.get("/healthz").json()["status"] == "degraded"
    line = site.read_text().splitlines().index('  accent_color: "#f5c542"') + 1
    assert f"site.yaml:{line}: banner.accent_color: '#f5c542' is the colour of the banner's links" in caplog.text

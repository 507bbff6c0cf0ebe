"""The lint for the law and against dark patterns: what regulators have named, refused by `gateway validate`.

Called by gateway/config.py after the schema checks, on the parts the schema accepted, so its refusals
are collected and printed like every other problem (FILE:LINE: key: message) and live reload keeps the
last good configuration on them. Each message names the rule it applies and what to change:

1. A vendor tag (a unit of gateway/vendors/ whose vendor.yaml `purposes` track: analytics, advertising)
   in the always-on `necessary` category, and Google Consent Mode types for ads or analytics granted by
   `necessary`. `image` and `script` tags may be necessary (the owner's call); one whose URL is a host a
   vendor unit lists is only warned about.
2. Texts that call optional processing necessary, and a `necessary` category that speaks of advertising,
   analytics or tracking (word lists per language below: data, so a language is added by adding words).
3. Lifetimes over 13 months: the schema already caps site.consent_max_age_days, acceptance_max_age_days and
   refusal_max_age_days at 395 days (its x-hint cites the rule); nothing else the owner sets is a lifetime.
4. An empty "Accept all" or "Reject all" (whitespace only: the schema refuses ""), or both buttons with the
   same text. Pre-ticked optional categories, a reject that is a link and no "Reject all" on the first
   layer cannot be configured at all: consent_ui/banner.html.j2 renders every optional switch unchecked
   and "Reject all" as the same <button> as "Accept all" (tests/test_lint.py holds the template to it).
5. Contrast (WCAG 2.x 1.4.3, AA 4.5:1): buttons take whichever of white or near-black reads better on
   `banner.accent_color` (text_on_accent, rendered as --tg-accent-text), and the accent used as link text
   and as the "Customize" button's text on the light banner (#fff) must reach 4.5:1 itself; the refusal
   gives the ratio and a colour of the same hue that passes. The dark theme (`theme: dark`, or `auto` on a
   dark system) uses `banner.dark_accent_color`, or by default the accent or the nearest lighter shade of
   it that reads on its background (dark_accent); an owner's dark accent is checked the same way on the
   dark background. The light accent is only checked where the light theme can show (theme light, auto).
   Colours a store sets with its own CSS (--tg-* on the host element) are the store's responsibility.
"""

from __future__ import annotations

import colorsys
import math
import re
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from gateway.vendors import TRACKING_PURPOSES, VENDORS

NECESSARY = "necessary"

EDPB = "EDPB cookie-banner taskforce report 2023"
CNIL = "CNIL guidelines and recommendation 2020"
WCAG = "WCAG 2.x 1.4.3, AA"

# ---------------------------------------------------------------------------------------------------
# Rule 1: vendor tags are not necessary.

# Consent Mode types that let Google's tags store or use data for ads or analytics: granted by the
# always-on `necessary`, they would be granted before (and without) any choice.
TRACKING_CONSENT_TYPES = ("ad_storage", "ad_user_data", "ad_personalization", "analytics_storage")
# The category a purpose usually belongs in, for the suggestion.
PURPOSE_CATEGORY = {"advertising": "marketing", "analytics": "analytics"}


def _vendor_hosts() -> list[tuple[str, str, str]]:
    """(host, path prefix, vendor key) of every vendor unit that tracks."""
    found = []
    for key, vendor in VENDORS.items():
        if TRACKING_PURPOSES & set(vendor.purposes):
            for rule in vendor.HOSTS:
                host, slash, path = rule.partition("/")
                found.append((host.lower().removeprefix("*."), slash + path, key))
    return sorted(found, key=lambda rule: (len(rule[1]), len(rule[0])), reverse=True)  # most specific first


def vendor_of_url(url: str) -> str | None:
    """The vendor unit (key) whose library or beacon host this URL is, as the consent firewall matches
    it: the host or a subdomain, and the rule's path prefix (`www.google.com/ccm/`, not reCAPTCHA); the most
    specific rule wins (`/gtag/js?id=AW-` is Google Ads')."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    for rule_host, prefix, key in _vendor_hosts():
        if (host == rule_host or host.endswith("." + rule_host)) and rest.startswith(prefix):
            return key
    return None


def _suggest_category(purposes: list[str], declared: list[str]) -> str:
    wanted = [PURPOSE_CATEGORY[p] for p in purposes if p in PURPOSE_CATEGORY] or ["marketing"]
    for name in wanted:
        if name in declared:
            return f"`{name}`"
    return f"an optional category such as `{wanted[0]}` (declare it under `categories:`)"


def _vendor_tag(kind: str, declared: list[str]) -> str:
    vendor = VENDORS[kind]
    purposes = list(vendor.purposes)
    return (f"{kind} ({vendor.name}) is for {' and '.join(purposes)}, which needs the visitor's consent; `necessary` is "
            f"always on, so it would fire without it ({EDPB}: inaccurately classified essential cookies; {CNIL}); "
            f"put it in {_suggest_category(purposes, declared)}")


# ---------------------------------------------------------------------------------------------------
# Rule 2: words. Per language (the primary subtag of banner.language), matched case-insensitively as
# whole words; `\w*` covers inflected endings. `necessary`: words that claim necessity (an optional
# category must not use them); `tracking`: what the always-on `necessary` category must not mention;
# `negation`: a word among the three before a necessity word, in the same clause, undoes it ("not
# strictly necessary", "n'est pas nécessaire"); `consent`: a clause that speaks of consent says the
# visitor's consent is needed ("your consent is required"), not that the processing is.

WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "necessary": ("necessary", "essential", "required"),
        "tracking": ("personali[sz]ed (?:ads?|advertising)", "advertising", "advertisements?", "ads?", "marketing",
                     "remarketing", "retargeting", "analytics", "tracking", "profiling"),
        "negation": ("not", "never", "no", r"\w+n[’']t"),
        "consent": ("consent",),
    },
    "de": {
        "necessary": (r"notwendig\w*", r"erforderlich\w*", r"essenziell\w*", r"essentiell\w*", r"unerlässlich\w*"),
        "tracking": (r"werbung\w*", r"werbe\w*", "marketing", r"analyse\w*", "tracking", "profilbildung"),
        "negation": ("nicht", r"kein\w*", "nie", "niemals"),
        "consent": (r"einwilligung\w*", r"zustimmung\w*"),
    },
    "fr": {
        "necessary": (r"nécessaires?", r"essentiel\w*", r"indispensables?", r"requis\w*", r"obligatoires?"),
        "tracking": (r"publicit\w*", "marketing", r"analytiques?", r"mesure d['’]audience", "traçage", "pistage",
                     "profilage"),
        "negation": ("pas", "non", "jamais", r"aucun\w*"),
        "consent": ("consentement",),
    },
    "es": {
        "necessary": (r"necesari[oa]s?", r"esencial(?:es)?", r"imprescindibles?", r"obligatori[oa]s?",
                      r"requerid[oa]s?"),
        "tracking": (r"publicidad\w*", r"publicitari\w*", "marketing", r"analític\w*", "rastreo",
                     "elaboración de perfiles"),
        "negation": ("no", "nunca", r"ningun\w*", "ningún"),
        "consent": ("consentimiento",),
    },
    "it": {
        "necessary": (r"necessari[oae]?", r"essenzial[ei]", r"indispensabil[ei]", r"obbligatori[oae]?"),
        "tracking": ("pubblicità", r"pubblicitari\w*", "marketing", r"analitic\w*", "tracciamento", "profilazione"),
        "negation": ("non", "mai"),
        "consent": ("consenso",),
    },
    "nl": {
        "necessary": (r"noodzakelijke?", r"essentieel", r"essentiële", r"vereiste?"),
        "tracking": (r"advertentie\w*", r"reclame\w*", "marketing", r"analyse\w*", r"analytisch\w*", "tracking",
                     "profilering"),
        "negation": ("niet", "geen", "nooit"),
        "consent": ("toestemming",),
    },
}
CLAUSE_END = re.compile(r"[.;:!?()\[\]–—]")  # a comma does not end a clause: "not used for ads, nor required"
TOKEN = re.compile(r"[\w’']+")


def _words(patterns: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)", re.IGNORECASE)


_COMPILED = {lang: {kind: _words(patterns) for kind, patterns in words.items()} for lang, words in WORDS.items()}


def language_words(language: Any) -> dict[str, re.Pattern] | None:
    """The compiled lists for a banner language (`de-AT` -> de), or None for a language without lists."""
    if not isinstance(language, str):
        return None
    return _COMPILED.get(language.split("-")[0].lower())


def claims_necessity(text: str, words: dict[str, re.Pattern]) -> str | None:
    """The first word of `text` that calls something necessary and is not negated, or None."""
    for match in words["necessary"].finditer(text):
        clause_start = max((m.end() for m in CLAUSE_END.finditer(text, 0, match.start())), default=0)
        clause_end = CLAUSE_END.search(text, match.end())
        clause = text[clause_start:clause_end.start() if clause_end else len(text)]
        before = TOKEN.findall(text[clause_start:match.start()])[-3:]
        if any(words["negation"].fullmatch(token) for token in before) or words["consent"].search(clause):
            continue
        return match.group(0)
    return None


def mentions_tracking(text: str, words: dict[str, re.Pattern]) -> str | None:
    match = words["tracking"].search(text)
    return match.group(0) if match else None


# ---------------------------------------------------------------------------------------------------
# Rule 5: contrast. The WCAG 2.x formulas, written here rather than taken from a library: they are a
# dozen lines, fully specified by the standard (and tested against its known values), and the gateway
# keeps its pinned dependencies to what it cannot reasonably write itself.

WHITE = "#ffffff"
NEAR_BLACK = "#1b1d22"    # the banner's body text colour (consent_ui/banner.css)
LIGHT_BACKGROUND = WHITE  # .tg-banner / .tg-prefs / .tg-notice background; links use the accent on it
DARK_BACKGROUND = "#1d2027"  # the dark theme's --tg-bg (consent_ui/fab.html.j2)
DARK_TEXT = "#eceef2"        # the dark theme's --tg-fg
AA_TEXT = 4.5             # WCAG 2.x 1.4.3 AA, normal-size text (the buttons' 15 px semi-bold is not "large")


def _rgb(colour: str) -> tuple[float, float, float]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(min(1.0, max(0.0, c)) * 255):02x}" for c in rgb)


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB hex colour (#rgb or #rrggbb)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio, 1 to 21, whichever colour is lighter."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def shown_ratio(ratio: float) -> str:
    """Two decimals, rounded down: a failing ratio is never shown as 4.50."""
    return f"{math.floor(ratio * 100) / 100:.2f}:1"


def text_on_accent(accent: str) -> str:
    """The text colour for buttons on the accent: white or near-black, whichever has the higher contrast."""
    return WHITE if contrast_ratio(WHITE, accent) >= contrast_ratio(NEAR_BLACK, accent) else NEAR_BLACK


def passing_colour(colour: str, background: str, target: float = AA_TEXT) -> str:
    """The nearest colour of the same hue and saturation, stepping the HSL lightness away from the
    background's, that reaches `target` against it (at worst black or white, which always do)."""
    h, lightness, s = colorsys.rgb_to_hls(*_rgb(colour))
    step = -0.005 if relative_luminance(background) > 0.18 else 0.005
    while 0.0 <= lightness <= 1.0:
        candidate = _hex(colorsys.hls_to_rgb(h, lightness, s))
        if contrast_ratio(candidate, background) >= target:
            return candidate
        lightness += step
    return "#000000" if step < 0 else WHITE


def dark_accent(accent: str) -> str:
    """The dark theme's accent when the owner names none: the accent itself if it reads on the dark
    background, else the nearest lighter shade of its hue that does."""
    return accent if contrast_ratio(accent, DARK_BACKGROUND) >= AA_TEXT else passing_colour(accent, DARK_BACKGROUND)


def _accent_problem(accent: str, background: str = LIGHT_BACKGROUND) -> str | None:
    ratio = contrast_ratio(accent, background)
    if ratio >= AA_TEXT:
        return None
    better = passing_colour(accent, background)
    text = text_on_accent(better)
    where, shade = ("white", "darker") if background == LIGHT_BACKGROUND else ("dark theme's", "lighter")
    return (f"{accent!r} is the colour of the banner's links and \"Customize\" text on its {where} background "
            f"({background}): contrast {shown_ratio(ratio)}, below the 4.5:1 that text needs ({WCAG}); use a {shade} "
            f"shade such as '{better}' ({shown_ratio(contrast_ratio(better, background))}; buttons then get {text} "
            f"text at {shown_ratio(contrast_ratio(text, better))})")


# ---------------------------------------------------------------------------------------------------

Report = Callable[[Any, tuple, str], None]


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def check(sources: list, broken: dict, categories: list[str], banner: dict[str, Any], report: Report,
          warn: Report) -> None:
    """Run every rule on the YAML sources (parts that failed the schema are skipped: reported there).

    `report(source, path, message)` adds a problem, `warn` a warning; `categories` are the declared keys,
    `banner` the merged banner settings (defaults included)."""
    words = language_words(banner.get("language"))

    def ok(source, path: tuple) -> bool:  # neither this part nor anything around or inside it failed the schema
        return not any(bad[:len(path)] == path or path[:len(bad)] == bad for bad in broken[source.path])

    banner_texts: dict[tuple, tuple] = {}  # (language, accept_all / reject_all) -> where the owner set it
    for source in sources:
        data = source.data
        for key, spec in _items(data.get("categories")):
            if not ok(source, ("categories", key)) or not isinstance(spec, dict):
                continue
            for field in ("label", "description"):
                text = spec.get(field)
                if isinstance(text, str) and words is not None:
                    _category_text(source, ("categories", key, field), key, text, words, report)
                # Given per language: each text with its own language's words.
                for language, text in _items(text):
                    if isinstance(text, str) and language_words(language) is not None:
                        _category_text(source, ("categories", key, field, language), key, text,
                                       language_words(language), report)
        own = data.get("banner")
        if isinstance(own, dict):
            # The flat texts are the default language's; banner.texts.<language> the others'.
            places = [((), own, banner.get("language"))] + [
                (("texts", language), texts, language) for language, texts in _items(own.get("texts"))
                if isinstance(texts, dict)]
            for prefix, texts, language in places:
                for key in ("accept_all", "reject_all"):
                    path = ("banner", *prefix, key)
                    if key in texts and ok(source, path):
                        banner_texts.setdefault((language, key), (source, path))
                        if _blank(texts[key]):
                            why = (f"{EDPB}: no reject option on the first layer" if key == "reject_all"
                                   else "consent must be an unambiguous act: GDPR Art. 4(11)")
                            report(source, path, f"is only white space: the first layer must offer "
                                   f"\"{'Reject' if key == 'reject_all' else 'Accept'} all\" as a button the visitor can read "
                                   f"({why}); write its text, or leave the key out for the default")
            # Each theme's accent on the background it is shown on (an invalid theme: the schema's problem).
            theme = banner.get("theme") if banner.get("theme") in ("light", "dark", "auto") else "light"
            shown = {"accent_color": LIGHT_BACKGROUND if theme != "dark" else None,
                     "dark_accent_color": DARK_BACKGROUND if theme != "light" else None}
            for key, background in shown.items():
                accent = own.get(key)
                if not (isinstance(accent, str) and ok(source, ("banner", key))):
                    continue
                if background is None:
                    if key == "dark_accent_color":
                        warn(source, ("banner", key), "warning: the light theme never shows the dark accent; set "
                             "theme: dark or auto, or remove dark_accent_color")
                    continue
                message = _accent_problem(accent, background)
                if message:
                    report(source, ("banner", key), message)
        for index, tag in enumerate(_list(data.get("tags"))):
            if isinstance(tag, dict) and ok(source, ("tags", index, "category")) and tag.get("category") == NECESSARY:
                _necessary_tag(source, ("tags", index), tag, categories, report, warn, ok)
        gcm = data.get("google_consent_mode")
        if isinstance(gcm, dict):
            for consent_type in TRACKING_CONSENT_TYPES:
                granted_by = gcm.get(consent_type)
                if isinstance(granted_by, list) and NECESSARY in granted_by \
                        and ok(source, ("google_consent_mode", consent_type)):
                    report(source, ("google_consent_mode", consent_type, granted_by.index(NECESSARY)),
                           f"`necessary` is always on: {consent_type} would be granted before and without the visitor's "
                           f"choice ({EDPB}: inaccurately classified essential cookies); list the optional categories "
                           "that allow it")
    # Per language (banner["texts"], from config.py: every offered language's merged texts; without it the
    # banner's own), where the owner set one of the two: the bundled texts are tested (tests/test_languages.py).
    merged = banner.get("texts") or {banner.get("language"): banner}
    for language, texts in merged.items():
        accept, reject = texts.get("accept_all"), texts.get("reject_all")
        where = banner_texts.get((language, "reject_all")) or banner_texts.get((language, "accept_all"))
        if where is not None and isinstance(accept, str) and isinstance(reject, str) and reject.strip() \
                and reject.strip().casefold() == accept.strip().casefold():
            report(*where, f"\"Accept all\" and \"Reject all\" would both read {reject.strip()!r}: the "
                   "visitor cannot tell refusing from accepting (consent must be an unambiguous act: GDPR Art. 4(11); "
                   f"{EDPB}: deceptive design); give each button the text of what it does")


def _items(value: Any) -> Iterator[tuple[str, Any]]:
    return iter(value.items()) if isinstance(value, dict) else iter(())


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _category_text(source, path: tuple, key: str, text: str, words: dict[str, re.Pattern], report: Report) -> None:
    if key == NECESSARY:
        word = mentions_tracking(text, words)
        if word:
            report(source, path, f"the always-on `necessary` category speaks of {word!r}: advertising, analytics and "
                   f"tracking need consent, so they cannot be necessary ({EDPB}: inaccurately classified essential "
                   f"cookies; {CNIL}); describe only what the store needs to work (cart, checkout, security) and put "
                   "the rest in an optional category")
        return
    word = claims_necessity(text, words)
    if word:
        report(source, path, f"calls the optional category '{key}' {word!r}: only `necessary` may say so, as the "
               f"visitor can refuse every other category ({EDPB}: inaccurately classified essential cookies; {CNIL}); "
               "say what it does instead (\"Counts visits\", \"Measures our ads\")")


def _necessary_tag(source, path: tuple, tag: dict, categories: list[str], report: Report, warn: Report, ok) -> None:
    for kind in tag:
        if kind in VENDORS and TRACKING_PURPOSES & set(VENDORS[kind].purposes):
            report(source, path + ("category",), _vendor_tag(kind, categories))
            return
    for kind, field in (("script", "src"), ("image", "url")):
        url = tag[kind].get(field) if isinstance(tag.get(kind), dict) and ok(source, path + (kind, field)) else None
        vendor = vendor_of_url(url) if isinstance(url, str) else None
        if vendor:
            name = VENDORS[vendor].name
            warn(source, path + (kind, field),
                 f"warning: this {kind} in `necessary` loads from a host of {name} ({vendor}, "
                 f"{' and '.join(VENDORS[vendor].purposes)}): it runs without consent; unless it is strictly needed for "
                 f"the store to work, use the {vendor} kind or an optional category ({EDPB})")

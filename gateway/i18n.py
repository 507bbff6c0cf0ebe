"""The banner's languages: the bundled texts (gateway/languages/<code>.yaml) and which language a visitor gets.

A site offers one or more languages (`banner.languages`, its default `banner.language`); every text of
every offered language is complete when the config loads (gateway/config.py fills them from the bundled
file of the language's primary subtag, `de-CH` -> de.yaml, and the owner's overrides). The dialogs are
rendered on the server per language, so the visitor's language is picked here, on GET /consent: the
page's `lang` attribute (sent by the container), then the browser's languages (its Accept-Language
header, which browsers derive from the same setting as navigator.languages), then the site's default.
Only an offered language ever comes out, so nothing a request says is echoed or rendered.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterable

import yaml

# Every text the dialogs, the floating button and the opt-out notice show (consent_ui/*.j2 `banner.<key>`).
TEXT_KEYS = ("title", "text", "privacy_link_text", "accept_all", "reject_all", "customize", "save",
             "preferences_title", "preferences_text", "settings_button", "close", "consent_id",
             "notice_text", "do_not_sell", "opt_out_honored", "privacy_choices",
             # The vendors listed inside each category of the preferences (gateway/vendor_choice.py).
             "vendors", "vendor_cookies", "vendor_policy", "purpose_analytics", "purpose_advertising",
             "lifetime_days", "lifetime_day", "lifetime_session",
             # Below a day (a vendor.yaml lifetime "<n>h" / "<n>m", such as GA's _gat: 1 minute).
             "lifetime_hours", "lifetime_hour", "lifetime_minutes", "lifetime_minute",
             # The placeholder of a blocked embed (consent_ui/embeds.js, with site.auto_blocking).
             "embed_text", "embed_button")
# Shown only to visitors in US opt-out regions: a site without such a region need not translate them.
OPT_OUT_KEYS = ("notice_text", "do_not_sell", "opt_out_honored", "privacy_choices")
# Shown only on sites with site.auto_blocking (a blocked embed's placeholder).
EMBED_KEYS = ("embed_text", "embed_button")
CATEGORY_KEYS = ("label", "description")  # the built-in `necessary` category's texts, also per language
BUNDLED = ("en", "de", "fr", "es", "it", "nl")
FALLBACK = "en"  # fills the keys a language without bundled texts leaves out (a validate warning names them)

_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


@lru_cache(maxsize=None)
def bundled(code: str) -> dict[str, dict[str, str]]:
    """{"banner": {key: text}, "necessary": {"label", "description"}} of a bundled language."""
    if code not in BUNDLED:
        raise KeyError(code)
    text = resources.files("gateway").joinpath("languages", f"{code}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def primary(tag: str) -> str:
    return tag.split("-")[0].lower()


def bundled_base(tag: str) -> str | None:
    """The bundled language whose texts a language tag starts from (`de-AT` -> de), or None."""
    code = primary(tag)
    return code if code in BUNDLED else None


def accept_language(header: str | None, limit: int = 12) -> list[str]:
    """The languages of an Accept-Language header, most preferred first (q=0 and `*` left out)."""
    weighted = []
    for position, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([^\s;]*)", params)
        if match:
            try:
                quality = float(match[1])
            except ValueError:
                continue  # a malformed weight: the entry means nothing
        if quality > 0 and _TAG.fullmatch(tag.strip()):
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)][:limit]


def pick(offered: Iterable[str], candidates: Iterable[str | None], default: str) -> str:
    """The first candidate the site offers: exactly (case-insensitive), else by its primary subtag
    (`de-AT` -> `de`, then any offered `de-*`); the default when none is offered. Always an offered tag."""
    offered = tuple(offered)
    exact = {tag.lower(): tag for tag in offered}
    for candidate in candidates:
        if not isinstance(candidate, str) or not _TAG.fullmatch(candidate.strip()):
            continue
        wanted = candidate.strip().lower()
        if wanted in exact:
            return exact[wanted]
        base = primary(wanted)
        if base in exact:
            return exact[base]
        for tag in offered:
            if primary(tag) == base:
                return tag
    return default


# A sentence ends at . ! ? or … followed by space and a capital (after an opening quote or bracket).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+(?=[\"'“‘«¿¡(]?[^\W\d_])")


def sentences(text: str) -> list[str]:
    """A text's sentences, in order, with every word: the banner shows each as a block of its own.

    Why: on a phone, Chromium's largest-contentful-paint candidate for text is the block that holds it, and a
    whole first-layer text is larger than a sparse store page's own largest paragraph (README "The banner's
    look"). One block per sentence keeps each candidate small at the same font size. A break needs a word of
    at least 3 letters before the stop and a capital after it, so abbreviations ("z. B.", "EE. UU.") stay
    inside their sentence; a missed break only makes one block larger. Never empty: [""] for no text.
    """
    parts: list[str] = []
    for piece in _SENTENCE_BREAK.split(text.strip()):
        letters = sum(c.isalpha() for c in parts[-1].split()[-1]) if parts else 0  # of the word before the stop
        if parts and (letters < 3 or not piece.lstrip("\"'“‘«¿¡(")[:1].isupper()):
            parts[-1] += " " + piece  # an abbreviation or a lowercase continuation: the same sentence
        else:
            parts.append(piece)
    return parts or [""]


LONGEST_BLOCK = 100  # characters: about two lines of a phone's banner, 12,000 to 17,000 px² at 14 px


def text_blocks(text: str, longest: int = LONGEST_BLOCK) -> list[str]:
    """A text as the blocks the banner and the notice show: its sentences, and a sentence longer than
    `longest` cut in two until no part is (at the clause mark nearest its middle, else the space nearest it).

    Why: the same as sentences(); the English US notice's first sentence (160 characters) painted 26,150 px²
    at 390 px wide by itself, more than the example store's product page's largest paragraph (20,286 px²).
    The cost: on a phone such a sentence breaks its line early where it is cut; wider screens show it whole.
    """
    out: list[str] = []
    for sentence in sentences(text):
        out.extend(_halves(sentence, longest))
    return out


def _halves(text: str, longest: int) -> list[str]:
    if len(text) <= longest:
        return [text]
    middle, third = len(text) // 2, len(text) // 6
    clauses = [m.end() for m in re.finditer(r"[,;:] ", text) if abs(m.end() - middle) <= third]
    spaces = [m.start() for m in re.finditer(r" ", text)]
    cuts = clauses or spaces
    if not cuts:
        return [text]  # one very long word: nothing to cut at
    cut = min(cuts, key=lambda i: abs(i - middle))
    return _halves(text[:cut].rstrip(), longest) + _halves(text[cut:].lstrip(), longest)

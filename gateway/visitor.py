"""What the gateway knows about one visitor's request, and what it answers on GET /consent.

The place and rule come from a trusted proxy's headers (gateway/regions.py), Global Privacy
Control from the Sec-GPC header or the container, the address from the peer or, behind trusted
proxies, the hop they report. Kept apart from app.py so the HTTP plumbing stays readable.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from gateway import i18n
from gateway.consent import Consent
from gateway.live_config import Snapshot
from gateway.regions import OPT_OUT, Place


def place_of(request: Request, snapshot: Snapshot) -> Place:
    """The visitor's rule, from the region headers of a trusted proxy (never from the browser alone)."""
    peer = request.client.host if request.client else None
    return snapshot.config.regions.place(request.headers, trusted=peer in snapshot.proxies)


def gpc_header(request: Request) -> bool:
    return request.headers.get("sec-gpc", "").strip() == "1"


def language_of(request: Request, snapshot: Snapshot) -> str:
    """The language the visitor reads, among those the site offers: the page's `lang` attribute (the
    container sends it as `lang=`), then the browser's languages (Accept-Language), then the default.
    Only an offered tag comes out: a request's own text is never echoed or rendered."""
    config = snapshot.config
    if len(config.languages) < 2:
        return config.language
    return i18n.pick(config.languages, [request.query_params.get("lang"),
                                        *i18n.accept_language(request.headers.get("accept-language"))],
                     config.language)


def what_applies(request: Request, snapshot: Snapshot, consent: Consent | None, reason: str) -> dict[str, Any]:
    """GET /consent's answer: decided here on every page view, never cached, so one /container.js
    serves every region. The container says whether the browser sends Global Privacy Control
    (`gpc=1`, as does the Sec-GPC header) and whether it holds the opt-out marker (`opted_out=1`),
    and the page's language (`lang=`). The answer names the language it is in (`lang`), which the
    container sends back with the choice and with GET /ui, and the floating button's label in it."""
    config = snapshot.config
    language = language_of(request, snapshot)
    place = place_of(request, snapshot)
    gpc = gpc_header(request) or request.query_params.get("gpc") == "1"
    marked = request.query_params.get("opted_out") == "1"
    sale = config.sale_categories
    if consent and marked and any(c in consent.categories for c in sale):
        consent, reason = None, "opted_out_since"  # the opt-out may not have reached the log yet
    body: dict[str, Any] = {"consent": consent.as_json() if consent else None, "reason": reason,
                            "region": {"code": place.code, "rule": place.rule}, "gpc": gpc, "sale": list(sale),
                            "lang": language}
    if language != config.language:  # the container's own label (CONFIG.ui) is in the default language
        body["fab"] = config.banner_in(language)["settings_button"]
    out = gpc or marked
    if consent is None and place.rule == OPT_OUT:
        # No click needed: everything fires, sale/sharing only while the visitor has not opted out.
        body["defaults"] = [c for c in config.category_keys if not (out and c in sale)]
        if out:
            body["record"] = "gpc" if gpc else "opt_out_link"
    elif consent is None:
        body["ui"] = snapshot.dialogs(language)  # the banner will ask
    if place.rule == OPT_OUT:
        honored = out if consent is None else any(c not in consent.categories for c in sale)
        body["notice"] = snapshot.notices(language)[honored]
    return body


def client_ip(request: Request, snapshot: Snapshot) -> str | None:
    """The visitor's address: the peer, or behind trusted proxies the nearest untrusted hop they report."""
    peer = request.client.host if request.client else None
    if peer not in snapshot.proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in snapshot.proxies:
            return hop
    return request.headers.get("cf-connecting-ip") or peer


def texts_shown(snapshot: Snapshot, rule: str, language: str | None = None) -> dict[str, str]:
    """The exact wording the visitor had in front of them, in the language they saw (an offered one:
    else the default's, which is what they were shown); stored once per version by the log."""
    config = snapshot.config
    banner = config.banner_in(language)
    keys = ["title", "text", "privacy_link_text", "accept_all", "reject_all", "customize", "save",
            "preferences_title", "preferences_text"]
    if rule == OPT_OUT:
        keys += ["notice_text", "do_not_sell", "opt_out_honored"]
    texts = {key: str(banner[key]) for key in keys}
    texts["privacy_policy_url"] = config.site.privacy_policy_url
    for category in config.categories_in(language):
        texts[f"category.{category.key}"] = f"{category.label}: {category.description}"
    return texts


def served_over_https(request: Request, snapshot: Snapshot) -> bool:
    """Did the visitor's browser use HTTPS? Behind a TLS-terminating proxy the gateway itself speaks
    plain HTTP, so the proxy's X-Forwarded-Proto counts, but only from a configured proxy address
    (site.trusted_proxies): anyone else could claim https and nothing would be gained, or claim http
    and get a consent cookie without Secure."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    if peer not in snapshot.proxies:
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"  # the proxy nearest the visitor comes first


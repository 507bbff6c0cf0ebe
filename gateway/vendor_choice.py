"""Who receives the visitor's data, per category: the vendors the preferences list (always) and, with
`site.vendor_choice: true`, switch one by one.

A vendor is what a tag's data goes to: a vendor template (`meta_pixel`, its name, purposes, cookies with
lifetimes and privacy policy from gateway/vendors/<key>/vendor.yaml), or an `image`/`script` tag, named by
the tag's `name`, with what its optional `vendor:` mapping discloses. Only enabled tags count: the list
says what this configuration actually sends.

A per-vendor choice is the categories allowed plus the vendors refused inside them
(`vendors_refused`). A choice without it (every choice before this existed, and every choice of a site
without vendor_choice) means every vendor of an allowed category, so old tokens and records keep their
meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gateway.config import Config
from gateway.consent import NECESSARY, Consent
from gateway.vendors import VENDORS


@dataclass(frozen=True)
class VendorEntry:
    key: str                                  # meta_pixel, or tag-<id> for an image/script tag
    name: str
    purposes: tuple[str, ...]                 # analytics, advertising (vendor templates only)
    cookies: tuple[tuple[str, int | str], ...]  # (name or pattern, days, "<n>m"/"<n>h" below a day, or "session")
    privacy_policy: str | None


def _entry(tag) -> VendorEntry:
    if tag.kind in VENDORS:
        vendor = VENDORS[tag.kind]
        lifetimes = vendor.cookie_lifetimes
        return VendorEntry(tag.kind, vendor.name, vendor.purposes,
                           tuple((c, lifetimes[c]) for c in vendor.cookies), vendor.privacy_policy)
    own = tag.vendor or {}
    return VendorEntry(tag.vendor_key, tag.name, (), tuple((own.get("cookies") or {}).items()), own.get("privacy_policy"))


def vendors_by_category(config: Config) -> dict[str, tuple[VendorEntry, ...]]:
    """Category key -> its vendors, each once, in the order their first tag appears."""
    out: dict[str, dict[str, VendorEntry]] = {c: {} for c in config.category_keys}
    for tag in config.tags:
        if tag.enabled and tag.vendor_key not in out[tag.category]:
            out[tag.category][tag.vendor_key] = _entry(tag)
    return {c: tuple(entries.values()) for c, entries in out.items()}


def choosable(config: Config) -> dict[str, tuple[str, ...]]:
    """Vendor key -> the categories it is in, for the vendors a visitor may refuse one by one: none unless
    the site has vendor_choice, and never a vendor of `necessary` alone (it is always on)."""
    if not config.site.vendor_choice:
        return {}
    found: dict[str, list[str]] = {}
    for tag in config.tags:
        if tag.enabled and tag.category != "necessary":
            cats = found.setdefault(tag.vendor_key, [])
            if tag.category not in cats:
                cats.append(tag.category)
    return {key: tuple(cats) for key, cats in found.items()}


def parse_refused(value: Any, config: Config, categories: tuple[str, ...]) -> tuple[tuple[str, ...] | None, str | None]:
    """POST /consent's `vendors_refused`: (the refused vendors that matter, sorted; or None when the site has no
    per-vendor choice) or an error message. A vendor none of whose categories is allowed is refused already
    and dropped, so the record says only what the switches changed."""
    keys = choosable(config)
    if value is None:
        return (() if keys else None), None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 200:
        return None, "vendors_refused must be a list of vendor keys"
    if not keys:
        if value:
            return None, "this site offers no per-vendor choice (site.vendor_choice); send no vendors_refused"
        return None, None
    unknown = sorted({v for v in value if v not in keys})
    if unknown:
        return None, f"unknown vendors {unknown}; known: {sorted(keys)}"
    return tuple(sorted({v for v in value if any(c in categories for c in keys[v])})), None


def offered_vendors(config: Config) -> tuple[str, ...]:
    """The vendors of the optional categories, sorted: what a visitor is shown when choosing, whether or not
    the site has per-vendor switches. The token (`vo`) and the record (vendors_offered) keep it."""
    return tuple(sorted({tag.vendor_key for tag in config.tags if tag.enabled and tag.category != NECESSARY}))


def with_unseen_vendors(consent: Consent, config: Config) -> tuple[Consent, bool]:
    """A stored choice as it applies now that the configuration may name vendors the visitor was never shown,
    and whether to ask again.

    An unseen vendor in a category the visitor allowed must not receive their data: with vendor_choice it is
    refused one by one (the others of its category keep firing); without, a category is all a visitor can
    grant, so a category that gained a vendor is off until they choose again. Either way the banner asks
    again. An unseen vendor only in categories the visitor refused changes nothing for them: no question.
    A token without the list (older than it) reads as "saw everything there is now": upgrading asks no one."""
    if consent.vendors_offered is None:
        return consent, False
    shown = set(consent.vendors_offered)
    unseen: dict[str, set[str]] = {}
    for tag in config.tags:
        if tag.enabled and tag.category != NECESSARY and tag.category in consent.categories and tag.vendor_key not in shown:
            unseen.setdefault(tag.vendor_key, set()).add(tag.category)
    if not unseen:
        return consent, False
    if config.site.vendor_choice:
        refused = tuple(sorted(set(consent.vendors_refused or ()) | set(unseen)))
        return replace(consent, vendors_refused=refused), True
    gained = set().union(*unseen.values())
    return replace(consent, categories=tuple(c for c in consent.categories if c not in gained)), True

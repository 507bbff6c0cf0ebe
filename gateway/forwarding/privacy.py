"""What a tag's YAML lets each vendor see of the visitor, and the normalising and hashing vendors ask for.

A tag chooses its `Transforms` (`privacy:` in the tag config, read with `Transforms.from_config`); the
vendor adapters call the functions below on every event so the rules live in one place:

- `client_ip`: send, truncate (IPv4 /24: last octet zeroed; IPv6 /48) or omit. A malformed address is
  omitted rather than forwarded or crashing the delivery thread: we cannot truncate what we cannot parse.
- `user_agent`: send or reduce. Reduce keeps only what a vendor needs to tell device classes apart (see
  `reduced_user_agent` for the exact rule). Meta website events require the real one (its adapter says
  so with USER_AGENT_REQUIRED), so the gateway should refuse `reduce` for Meta.
- `page_url` / `referrer`: the fragment always goes (it never reaches a server in a browser request
  either); the query string on `strip_query` (it carries order numbers, e-mail addresses in newsletter
  links, search terms); the referrer entirely on `strip_referrer`.
- e-mail and phone: only when the store gave them, non-empty, and `user_data` is on; normalised the way
  the vendor documents, then SHA-256 hex. A value that already is 64 hex digits is taken as hashed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

IP_MODES = ("send", "truncate", "omit")
USER_AGENT_MODES = ("send", "reduce")


@dataclass(frozen=True)
class Transforms:
    ip: str = "send"               # send | truncate | omit
    user_agent: str = "send"       # send | reduce
    strip_query: bool = False      # drop the query string of the page URL (and of the referrer)
    strip_referrer: bool = False   # send no referrer at all
    user_data: bool = True         # hashed e-mail / phone when the store provides them

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None) -> "Transforms":
        """The tag's `privacy:` mapping; absent keys keep the defaults. Unknown keys and wrong values are
        errors naming the key, so a typo ("truncated") never silently sends the full address."""
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise ValueError(f"privacy: expected a mapping, got {type(mapping).__name__}")
        known = {f.name for f in fields(cls)}
        for key in mapping:
            if key not in known:
                raise ValueError(f"privacy.{key}: unknown key (known: {', '.join(sorted(known))})")
        values = dict(mapping)
        if "ip" in values and values["ip"] not in IP_MODES:
            raise ValueError(f"privacy.ip: {values['ip']!r} is not one of {', '.join(IP_MODES)}")
        if "user_agent" in values and values["user_agent"] not in USER_AGENT_MODES:
            raise ValueError(f"privacy.user_agent: {values['user_agent']!r} is not one of "
                             f"{', '.join(USER_AGENT_MODES)}")
        for key in ("strip_query", "strip_referrer", "user_data"):
            if key in values and not isinstance(values[key], bool):
                raise ValueError(f"privacy.{key}: {values[key]!r} is not true or false")
        return cls(**values)


def client_ip(ip: str, mode: str) -> str:
    """The address to send under `mode`; "" means: leave the field out."""
    if mode == "omit" or not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped:
        # A dual-stack server reports IPv4 visitors as ::ffff:a.b.c.d; a /48 of that would keep nothing
        # useful, so it is treated as the IPv4 address it is.
        address = address.ipv4_mapped
    if mode == "send":
        return str(address)
    if mode == "truncate":
        prefix = 24 if address.version == 4 else 48
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        return str(network.network_address)
    raise ValueError(f"unknown ip mode {mode!r}")


# Browser families, checked in this order because every Chromium browser also says "Chrome/" and
# "Safari/", and Chrome on iOS says "Safari/" too. (token in the UA, name we report)
_BROWSERS = (
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("OPR/", "Opera"),
    ("SamsungBrowser/", "SamsungBrowser"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Version/", "Safari"),
)
# Platforms, most specific first (Android UAs also say "Linux", iPads may say "Macintosh").
_PLATFORMS = (
    ("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
    ("CrOS", "ChromeOS"), ("Macintosh", "macOS"), ("Linux", "Linux"),
)


def reduced_user_agent(ua: str) -> str:
    """Keep the browser family, its major version and the platform, in UA syntax so vendors still parse
    it: "Mozilla/5.0 (<platform>) <Family>/<major>". Device models, OS versions, minor/build versions
    and engine tokens (the fingerprinting surface) go. An agent we cannot classify is dropped ("") rather
    than sent whole."""
    family = major = ""
    for token, name in _BROWSERS:
        match = re.search(re.escape(token) + r"(\d+)", ua)
        if match:
            family, major = name, match.group(1)
            break
    platform = next((name for token, name in _PLATFORMS if token in ua), "")
    if not family or not platform:
        return ""
    return f"Mozilla/5.0 ({platform}) {family}/{major}"


def user_agent(ua: str, mode: str) -> str:
    if mode == "send":
        return ua.strip()
    if mode == "reduce":
        return reduced_user_agent(ua)
    raise ValueError(f"unknown user_agent mode {mode!r}")


def page_url(url: str, strip_query: bool) -> str:
    """The page address without its fragment, and without its query on `strip_query`."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "" if strip_query else parts.query, ""))


def referrer(ref: str, strip: bool, strip_query: bool = False) -> str:
    if strip or not ref:
        return ""
    return page_url(ref, strip_query)


_HASHED = re.compile(r"^[0-9a-fA-F]{64}$")


def is_hashed(value: str) -> bool:
    return bool(_HASHED.match(value))


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def normalized_email(raw: str) -> str:
    """Meta and TikTok alike: leading/trailing whitespace removed, lower case."""
    return raw.strip().lower()


def normalized_phone(raw: str, vendor: str) -> str:
    """Digits only, the country code included, for the vendor's hash.

    Meta (`ph`): remove symbols, letters and any leading zeros; the country code must be there
    ("+1 (650) 555-1212" -> "16505551212"). A number written with the international "00" prefix thus
    loses it too. TikTok (`phone`): E.164, that is "+" followed by those same digits
    ("+16505551212"). We do not guess a missing country code: a national number ("0650 ...") is sent as
    its digits without the zero, which simply will not match, rather than matching the wrong person.
    """
    digits = re.sub(r"\D", "", raw).lstrip("0")
    if not digits:
        return ""
    if vendor == "tiktok_pixel":
        return "+" + digits
    return digits


def hashed_email(raw: str | None, transforms: Transforms) -> str:
    """SHA-256 of the normalised address, "" when there is none or user data is off."""
    if not transforms.user_data or not raw or not raw.strip():
        return ""
    value = raw.strip()
    return value.lower() if is_hashed(value) else sha256_hex(normalized_email(value))


def hashed_phone(raw: str | None, vendor: str, transforms: Transforms) -> str:
    if not transforms.user_data or not raw or not raw.strip():
        return ""
    value = raw.strip()
    if is_hashed(value):
        return value.lower()
    normalized = normalized_phone(value, vendor)
    return sha256_hex(normalized) if normalized else ""

"""Which privacy rule applies to a visitor: opt-in (GDPR, ePrivacy) or opt-out (US state laws).

The visitor's place comes only from headers a CDN or reverse proxy sets (Cloudflare's
`CF-IPCountry` and `CF-Region-Code` by default), and only when the request comes from one of
`site.trusted_proxies`: nothing a browser can set by itself decides the rule. The most specific
configured code wins (`US-CA` before `US`); a place nobody configured, or an unknown place, gets
`regions.default`, which is opt-in unless the owner says otherwise.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Iterable, Mapping

OPT_IN, OPT_OUT = "opt_in", "opt_out"

EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
GROUPS = {"EU": EU, "EEA": EU | {"IS", "LI", "NO"}}

DEFAULT_TRUSTED_PROXIES = ("127.0.0.1/8", "::1")
DEFAULT_COUNTRY_HEADER = "CF-IPCountry"
DEFAULT_SUBDIVISION_HEADER = "CF-Region-Code"


@dataclass(frozen=True)
class Place:
    code: str | None  # "DE", "US-CA"; None when unknown
    rule: str         # OPT_IN or OPT_OUT


@dataclass(frozen=True)
class RegionRules:
    default: str = OPT_IN
    codes: Mapping[str, str] = field(default_factory=dict)  # "DE" / "US-CA" -> rule
    country_header: str = DEFAULT_COUNTRY_HEADER
    subdivision_header: str = DEFAULT_SUBDIVISION_HEADER
    opt_out_link: str = "do_not_sell"  # or "privacy_choices": the single link with the CPRA icon (§7015)

    @classmethod
    def from_spec(cls, spec: Mapping) -> "RegionRules":
        codes: dict[str, str] = {}
        for rule in (OPT_IN, OPT_OUT):
            for code in spec.get(rule, ()):
                for expanded in sorted(GROUPS.get(code, {code})):
                    codes[expanded] = rule
        return cls(default=spec.get("default", OPT_IN), codes=codes,
                   country_header=spec.get("country_header", DEFAULT_COUNTRY_HEADER),
                   subdivision_header=spec.get("subdivision_header", DEFAULT_SUBDIVISION_HEADER),
                   opt_out_link=spec.get("opt_out_link", "do_not_sell"))

    @property
    def has_opt_out(self) -> bool:
        return self.default == OPT_OUT or OPT_OUT in self.codes.values()

    def place(self, headers: Mapping[str, str], trusted: bool) -> Place:
        """The visitor's place and rule, from the proxy's headers when the request came through it."""
        country = _clean(headers.get(self.country_header)) if trusted else ""
        if len(country) != 2 or country in ("XX", "T1"):  # Cloudflare: XX unknown, T1 Tor
            return Place(None, self.default)
        subdivision = _clean(headers.get(self.subdivision_header))
        code = f"{country}-{subdivision}" if 1 <= len(subdivision) <= 3 else country
        rule = self.codes.get(code) or self.codes.get(country) or self.default
        return Place(code, rule)


def _clean(value: str | None) -> str:
    value = (value or "").strip().upper()
    return value if value.isascii() and value.isalnum() else ""


def overlapping_codes(opt_in: Iterable[str], opt_out: Iterable[str]) -> list[str]:
    """Codes (after expanding EU/EEA) listed under both rules: a configuration mistake."""
    def expand(codes: Iterable[str]) -> set[str]:
        return {c for code in codes for c in GROUPS.get(code, {code})}
    return sorted(expand(opt_in) & expand(opt_out))


class TrustedProxies:
    """Is a request's peer address one of the configured proxies?"""

    def __init__(self, networks: Iterable[str]):
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def __contains__(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address((address or "").split("%")[0])
        except ValueError:
            return False
        return any(ip in network for network in self._networks if network.version == ip.version)


def invalid_networks(values: Iterable[str]) -> list[str]:
    bad = []
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            bad.append(value)
    return bad

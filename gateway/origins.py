"""Match a request's Origin against `site.allowed_origins`.

Patterns: an exact origin (`https://shop.example`, default ports implied), any
port (`http://localhost:*`) or any subdomain (`https://*.shop.example`, which
does not match the bare domain).

An Origin header is first normalised (`normalize_origin`): a browser only ever
sends `scheme://host[:port]`, so anything else (user info, a path, a fragment,
a port outside 1-65535) is not an origin at all and is refused before any
pattern sees it. Only the normalised form is ever echoed back in CORS headers.
"""

from __future__ import annotations

import ipaddress
import re

_DEFAULT_PORTS = {"http": 80, "https": 443}

# scheme://host[:port] and nothing else. The host is a DNS name or a bracketed IPv6 literal;
# the port is checked for its range below (a regex cannot say 1..65535 readably).
_ORIGIN = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?", re.ASCII)


def normalize_origin(value: str | None) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None if `value` is not an origin."""
    if not value:
        return None
    match = _ORIGIN.fullmatch(value.lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
    if port is not None:
        number = int(port)
        if not 1 <= number <= 65535:
            return None
        if number != _DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{number}"
    return f"{scheme}://{host}"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    scheme, rest = pattern.split("://", 1)
    host, _, port = rest.partition(":")
    host_re = re.escape(host.lower())
    if host.startswith("*."):
        host_re = r"[a-z0-9-]+(?:\.[a-z0-9-]+)*" + re.escape(host[1:].lower())
    if port == "*":
        port_re = r"(?::[0-9]{1,5})?"
    else:
        number = int(port) if port else _DEFAULT_PORTS[scheme]
        port_re = f":{number}" if number != _DEFAULT_PORTS[scheme] else ""
    return re.compile(f"^{re.escape(scheme)}://{host_re}{port_re}$")


class OriginMatcher:
    def __init__(self, patterns: tuple[str, ...]):
        self._regexes = [_pattern_regex(p) for p in patterns]

    def allows(self, origin: str | None) -> bool:
        """Is this *normalised* origin (see normalize_origin) one of the allowed ones?"""
        return origin is not None and any(r.fullmatch(origin) for r in self._regexes)

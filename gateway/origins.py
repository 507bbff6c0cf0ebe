"""Match a request's Origin against `site.allowed_origins`.

Patterns: an exact origin (`https://shop.example`, default ports implied), any
port (`http://localhost:*`) or any subdomain (`https://*.shop.example`, which
does not match the bare domain).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


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
        port_re = f":{number}" if number != _DEFAULT_PORTS[scheme] else f"(?::{number})?"
    return re.compile(f"^{re.escape(scheme)}://{host_re}{port_re}$")


class OriginMatcher:
    def __init__(self, patterns: tuple[str, ...]):
        self._regexes = [_pattern_regex(p) for p in patterns]

    def allows(self, origin: str | None) -> bool:
        if not origin or origin == "null":
            return False
        parts = urlsplit(origin)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query:
            return False
        normalized = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return any(r.match(normalized) for r in self._regexes)

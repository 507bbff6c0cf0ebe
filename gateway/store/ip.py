"""The only form of an IP address the consent log keeps: its network prefix.

IPv4 addresses are cut to their /24 and IPv6 addresses to their /48 (the size
of a typical site allocation), so a record says roughly where a decision came
from without identifying the device. An IPv4-mapped IPv6 address
(``::ffff:203.0.113.7``) is treated as the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPV4_PREFIX = 24
IPV6_PREFIX = 48


@lru_cache(maxsize=4096)  # parsing with ipaddress is a third of record()'s CPU; visitors repeat
def truncate_ip(ip: str | None) -> str | None:
    """``"203.0.113.77"`` -> ``"203.0.113.0/24"``; ``"2001:db8:a:b::1"`` -> ``"2001:db8:a::/48"``.

    None, an empty string, or anything that is not an IP address gives None: a
    value that cannot be truncated is never stored.
    """
    if not ip:
        return None
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # an IPv6 zone id ("fe80::1%eth0") names a local interface, not the host
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

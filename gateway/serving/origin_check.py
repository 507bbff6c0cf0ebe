"""Start-up warnings for `site.allowed_origins` that cannot work for the store being served.

A store whose origin is not allowed loads the container, shows the banner, and then cannot record a
choice (POST /consent answers 403): the visitor is asked again on every page. The gateway cannot see
the store's pages, so `gateway serve --store-url URL` names them; without it, a server listening on
all interfaces while only local origins are allowed is the likely mistake.
"""

from __future__ import annotations

from gateway.origins import OriginMatcher, normalize_origin

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def origin_warnings(patterns: tuple[str, ...], store_urls: list[str], host: str) -> list[str]:
    matcher = OriginMatcher(patterns)
    warnings = []
    for url in store_urls:
        origin = normalize_origin(_origin_of(url))
        if origin is None:
            warnings.append(f"--store-url {url!r} is not a URL such as https://shop.example")
        elif not matcher.allows(origin):
            warnings.append(f"site.allowed_origins does not allow the store at {origin}: its visitors' choices "
                            f"would be refused (403) and asked again on every page. Add \"{origin}\" to "
                            f"site.allowed_origins.")
    if not store_urls and host in ("0.0.0.0", "::") and patterns and all(_is_local(p) for p in patterns):
        warnings.append("listening on all interfaces, but site.allowed_origins lists only local origins "
                        f"({', '.join(patterns)}): a store on the internet could not record choices. List the "
                        "store's origin (and pass --store-url to have it checked).")
    return warnings


def _origin_of(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.split('/', 1)[0]}" if sep else url


def _is_local(pattern: str) -> bool:
    authority = pattern.partition("://")[2]
    host = authority if authority.endswith("]") or ":" not in authority else authority.rsplit(":", 1)[0]
    return host in LOCAL_HOSTS


def sites_origin_warnings(sites: dict[str, tuple[str, ...]], store_urls: list[str], host: str) -> list[str]:
    """origin_warnings for a gateway serving several sites (name -> allowed_origins): a store URL is
    a problem only when no site allows it; the all-interfaces warning is given per site."""
    warnings = [f"site {name}: {w}" for name, patterns in sites.items() for w in origin_warnings(patterns, [], host)]
    for url in store_urls:
        per_site = [origin_warnings(patterns, [url], host) for patterns in sites.values()]
        if per_site and all(per_site):
            origin = normalize_origin(_origin_of(url))
            warnings.append(per_site[0][0] if origin is None else
                            f"no site's allowed_origins allows the store at {origin}: its visitors' choices would be "
                            f"refused (403). Add \"{origin}\" to site.allowed_origins of its site.")
    return warnings

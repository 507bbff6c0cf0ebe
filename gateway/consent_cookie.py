"""How large the consent cookie can grow for a configuration, and the warning when browsers would drop it.

The cookie holds the signed token (gateway/consent.py), and the token lists, besides the categories, every
vendor the visitor was shown (`vo`) and, with site.vendor_choice, every vendor they refused (`vr`). An image
or script tag is a vendor of its own, named `tag-<its id>`, so a store with many such tags under long ids
makes a long token: about 180 bytes per tag with a 60-character id. Browsers keep at most 4,096 bytes of a
cookie (RFC 6265 asks at least that much; Chrome and Firefox drop a larger one without a word), and a visitor
whose cookie was dropped has no stored choice: the banner asks again on every page and nothing optional fires.
`gateway validate` and the server's start therefore warn, naming the size, before any visitor meets it.
"""

from __future__ import annotations

from starlette.responses import Response

from gateway.config import Config
from gateway.consent import ACTIONS, ConsentSigner
from gateway.regions import OPT_IN, OPT_OUT
from gateway.vendor_choice import offered_vendors

BROWSER_LIMIT = 4096  # bytes of one Set-Cookie's name, value and attributes that every browser keeps

# Any key of the usual length signs as long as the real one: the signature's size depends only on the hash.
_SIZING_KEY = "sizing-only-" + "0" * 52


def largest_cookie(config: Config, path: str = "/") -> int:
    """The bytes of the longest Set-Cookie this configuration can send: every category granted and offered,
    every vendor shown (and, with vendor_choice, refused), the longest rule and action, GPC on, over HTTPS
    to a cross-origin page (the attributes it adds)."""
    categories = tuple(category.key for category in config.categories)
    vendors = offered_vendors(config)
    token, _ = ConsentSigner(_SIZING_KEY).issue(
        categories, config.site.policy_version, offered=categories, rule=max((OPT_IN, OPT_OUT), key=len), gpc=True,
        action=max(ACTIONS, key=len), site=config.site,
        vendors_refused=vendors if config.site.vendor_choice else None, vendors_offered=vendors)
    response = Response()
    response.set_cookie(config.site.cookie_name, token, max_age=config.site.consent_max_age_seconds, path=path,
                        domain=config.site.cookie_domain, secure=True, httponly=False, samesite="none")
    return len(response.headers["set-cookie"].encode())


def warning(config: Config) -> str | None:
    """The warning for a configuration whose consent cookie browsers could drop; None when it fits."""
    size = largest_cookie(config)
    if size <= BROWSER_LIMIT:
        return None
    generic = sum(1 for vendor in offered_vendors(config) if vendor.startswith("tag-"))
    twice = " twice (shown and refused: site.vendor_choice)" if config.site.vendor_choice else ""
    return (f"warning: the consent cookie can reach {size:,} bytes, and browsers drop a cookie over "
            f"{BROWSER_LIMIT:,}: a visitor whose cookie is dropped is asked again on every page and nothing "
            f"optional fires. It lists each vendor{twice}, and each of the {generic} image and script tags "
            "as a vendor of its own (tag-<id>): shorten those tags' ids, or turn off the ones no longer used")

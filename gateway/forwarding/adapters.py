"""Which adapter module serves a vendor, and where its requests go.

`lookup` goes through gateway.forwarding.vendors.adapter_for (the adapters' own registry); every caller
in the gateway asks here, so a test can stand a fake adapter in for one place.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

from gateway.forwarding.credentials import _env_part
from gateway.forwarding.vendors import adapter_for

# Base URL overrides: honoured ONLY with the test switch set. A leftover or injected variable must not
# quietly divert visitors' conversion data (IP, user agent, hashed e-mail) to some other host: without
# the switch the vendor's own endpoint is used, and with it every start logs which vendor goes where.
TEST_SWITCH = "TAG_GATEWAY_FORWARD_TEST_ENDPOINTS"
BASE_URL_PREFIX = "TAG_GATEWAY_FORWARD_BASE_URL_"

log = logging.getLogger("tag_gateway")
_logged: set[str] = set()


def lookup(vendor: str) -> ModuleType | None:
    return adapter_for(vendor)


def base_url(vendor: str) -> str | None:
    if os.environ.get(TEST_SWITCH) != "1":
        return None
    url = os.environ.get(BASE_URL_PREFIX + _env_part(vendor)) or None
    if url and vendor not in _logged:
        _logged.add(vendor)
        log.warning("%s=1: %s events go to %s, not to the vendor (tests only)", TEST_SWITCH, vendor, url)
    return url

"""One module per vendor API (see gateway.forwarding.event for the types they use).

Each adapter module has VENDOR (the browser template it forwards for), CREDENTIAL (what the store has
to configure, in words), USER_AGENT_REQUIRED, DEDUPLICATES_BY_EVENT_ID, `build_request(event,
transforms, credential, base_url=None)` and `read_answer(answer)`. `base_url` None means the vendor's
real API root; tests point it at tests/vendor_api_standins.py.
"""

from __future__ import annotations

from types import ModuleType

from gateway.forwarding.vendors import ga4_mp, meta_capi, tiktok_events
from gateway.forwarding.vendors.answers import redacted_url

ADAPTERS: dict[str, ModuleType] = {module.VENDOR: module for module in (meta_capi, tiktok_events, ga4_mp)}


def adapter_for(vendor: str) -> ModuleType | None:
    """The adapter forwarding for the browser template `vendor`, None when it has no server API here."""
    return ADAPTERS.get(vendor)


__all__ = ["ADAPTERS", "adapter_for", "redacted_url"]

"""The configuration's `forwarding:` block and the vendor facts the config checks need.

Kept apart from the vendor adapters (gateway/forwarding/vendors/) on purpose: `gateway validate` must
refuse an impossible setting (GA4 both ways, a reduced user agent for Meta) even where an adapter
module is missing, so the facts the checks rest on are listed here. Each matches the adapter's own
constant of the same name (DEDUPLICATES_BY_EVENT_ID, USER_AGENT_REQUIRED).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The vendor templates that have a conversion-API adapter: only their tags may say `server_side`.
SERVER_SIDE_VENDORS = ("meta_pixel", "tiktok_pixel", "ga4")
# GA4's Measurement Protocol keeps every hit: a browser hit and a server hit of one purchase count twice.
NO_DEDUPLICATION = frozenset({"ga4"})
# Meta requires client_user_agent for website events (action_source "website").
USER_AGENT_REQUIRED = frozenset({"meta_pixel"})
# Vendors with a restricted mode for visitors who opted out of sale/sharing (Meta: Limited Data Use).
RESTRICTED_MODES = frozenset({"meta_pixel"})
SERVER_SIDE = ("also", "only")
DEFAULT_ATTEMPTS = 8
OPT_OUT_MODES = ("drop", "restricted")


@dataclass(frozen=True)
class Forwarding:
    attempts: int = DEFAULT_ATTEMPTS   # delivery attempts before an event is dead
    max_value: float | None = None     # plausibility limit on params.value (None: no limit)
    opt_out_mode: str = "drop"
    privacy: dict[str, dict[str, Any]] = field(default_factory=dict)  # vendor -> its YAML mapping, as written

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> "Forwarding":
        spec = spec or {}
        return cls(attempts=spec.get("attempts", DEFAULT_ATTEMPTS), max_value=spec.get("max_value"),
                   opt_out_mode=spec.get("opt_out_mode", "drop"),
                   privacy={vendor: dict(mapping or {}) for vendor, mapping in (spec.get("vendors") or {}).items()})

    def transforms_for(self, vendor: str) -> Any:
        """The vendor's privacy transforms: the ONE place the YAML mapping becomes a `Transforms`."""
        return transforms_from(self.privacy.get(vendor, {}))


@dataclass(frozen=True)
class _Transforms:
    """Stand-in with the fields of gateway.forwarding.privacy.Transforms, used only while that module is
    absent from this tree (it is written in parallel); `transforms_from` prefers the real one."""
    ip: str = "send"
    user_agent: str = "send"
    strip_query: bool = False
    strip_referrer: bool = False
    user_data: bool = True


def transforms_from(mapping: dict[str, Any]) -> Any:
    try:
        from gateway.forwarding.privacy import Transforms
    except ImportError:
        return _Transforms(**mapping)
    return Transforms.from_config(mapping)

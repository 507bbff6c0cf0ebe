"""The configuration's `forwarding:` block and the vendor facts the config checks need.

The facts `gateway validate` checks against (GA4 only one way, no reduced user agent for Meta) are read
from the adapters' own constants (DEDUPLICATES_BY_EVENT_ID, USER_AGENT_REQUIRED), so a new adapter brings
its rules with it and nothing is listed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.forwarding.privacy import Transforms
from gateway.forwarding.vendors import ADAPTERS

# The vendor templates that have a conversion-API adapter: only their tags may say `server_side`.
SERVER_SIDE_VENDORS = tuple(ADAPTERS)
# E.g. GA4's Measurement Protocol keeps every hit: a browser hit and a server hit of one purchase count twice.
NO_DEDUPLICATION = frozenset(v for v, adapter in ADAPTERS.items() if not adapter.DEDUPLICATES_BY_EVENT_ID)
# E.g. Meta requires client_user_agent for website events (action_source "website").
USER_AGENT_REQUIRED = frozenset(v for v, adapter in ADAPTERS.items() if adapter.USER_AGENT_REQUIRED)
# Vendors with a restricted mode for visitors who opted out of sale/sharing (Meta: Limited Data Use).
RESTRICTED_MODES = frozenset({"meta_pixel"})
SERVER_SIDE = ("also", "only")
DEFAULT_ATTEMPTS = 8
# POST /collect per client address, apart from POST /consent's buckets so that a flood of events cannot
# block a choice: a checkout sends a handful of events, a shop's busiest visitor a few dozen a minute.
DEFAULT_RATE_LIMIT = (120, 60)  # (requests, per_seconds)
OPT_OUT_MODES = ("drop", "restricted")


@dataclass(frozen=True)
class Forwarding:
    attempts: int = DEFAULT_ATTEMPTS   # delivery attempts before an event is dead
    max_value: float | None = None     # plausibility limit on params.value (None: no limit)
    opt_out_mode: str = "drop"
    privacy: dict[str, dict[str, Any]] = field(default_factory=dict)  # vendor -> its YAML mapping, as written
    rate_limit: tuple[int, int] | None = DEFAULT_RATE_LIMIT  # per client address; None: off

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> "Forwarding":
        spec = spec or {}
        limit = spec.get("rate_limit", True)  # schema-checked: true (the default), false, or the two numbers
        return cls(attempts=spec.get("attempts", DEFAULT_ATTEMPTS), max_value=spec.get("max_value"),
                   opt_out_mode=spec.get("opt_out_mode", "drop"),
                   privacy={vendor: dict(mapping or {}) for vendor, mapping in (spec.get("vendors") or {}).items()},
                   rate_limit=DEFAULT_RATE_LIMIT if limit is True else
                   (limit["requests"], limit["per_seconds"]) if limit else None)

    def transforms_for(self, vendor: str) -> Transforms:
        """The vendor's privacy transforms: the ONE place the YAML mapping becomes a `Transforms`."""
        return transforms_from(self.privacy.get(vendor, {}))


def transforms_from(mapping: dict[str, Any]) -> Transforms:
    return Transforms.from_config(mapping)

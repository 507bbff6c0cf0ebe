"""What crosses the forwarding modules' boundaries.

`ServerEvent` is what `POST /collect` accepted: everything a vendor adapter may put into its request,
already checked against consent, before the vendor's privacy transforms. It is stored in the outbox as
JSON (`as_json` / `from_json`), so its fields are plain values only.

An adapter turns it into an `OutgoingRequest` and reads the vendor's answer as one `Outcome`:
`Delivered`, `Retry` (try again later, after `after` seconds when the vendor said so) or `Failed` (the
vendor refused the event itself: retrying cannot help, it goes to the dead letters with the error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerEvent:
    event_id: str            # the id the browser pixel got too (Meta/TikTok de-duplicate on it)
    site: str                # the site (gateway.sites) whose config the tag came from
    tag_id: str              # the YAML tag that produced it
    vendor: str              # the vendor template: "meta_pixel", "tiktok_pixel", "ga4"
    account_id: str          # Meta pixel id, TikTok pixel code, GA4 measurement id
    event_name: str          # the vendor's own event name ("Purchase", "CompletePayment", "purchase")
    event_time: int          # Unix seconds, when the visitor's browser saw the occurrence
    page_url: str = ""
    referrer: str = ""
    client_ip: str = ""      # from the trusted headers (gateway.visitor.client_ip), never from the body
    user_agent: str = ""
    cookies: dict[str, str] = field(default_factory=dict)   # first-party ids: _fbp, _fbc, _ttp, ttclid, _ga
    params: dict[str, Any] = field(default_factory=dict)    # the tag's parameters as the container resolved them
    user: dict[str, str] = field(default_factory=dict)      # raw e-mail / phone the store gave, hashed per vendor
    consent_id: str = ""     # the consent record this event was accepted under ("" for an opt-out default)
    restricted: bool = False  # send in the vendor's restricted mode (Meta Limited Data Use) for an opt-out region
    region: str = ""         # e.g. "US-CA", for the restricted mode's location fields

    def as_json(self) -> dict[str, Any]:
        # Shallow: the fields are plain values already (dataclasses.asdict deep-copies each dict, which cost
        # more than the rest of queueing the event).
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ServerEvent":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


_FIELDS = tuple(ServerEvent.__dataclass_fields__)


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Delivered:
    detail: str = ""


@dataclass(frozen=True)
class Retry:
    error: str
    after: float | None = None  # seconds, from Retry-After or the vendor's rate-limit answer


@dataclass(frozen=True)
class Failed:
    error: str


Outcome = Delivered | Retry | Failed

"""The signed consent token: what the visitor chose, for which policy, when.

Modelled on Starlette's session middleware: itsdangerous' TimestampSigner with
a max age, and anything that does not verify (tampered, unsigned, expired, for
an older policy version) reads as *no choice*, never as an error.
"""

from __future__ import annotations

import json
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime, timezone

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

COOKIE_NAME = "tg_consent"
_SALT = "tag-gateway.consent.v1"


@dataclass(frozen=True)
class Consent:
    categories: tuple[str, ...]
    policy_version: int
    consent_id: str
    timestamp: int

    def as_json(self) -> dict:
        return {"categories": list(self.categories), "policy_version": self.policy_version, "id": self.consent_id,
                "timestamp": datetime.fromtimestamp(self.timestamp, timezone.utc).isoformat().replace("+00:00", "Z")}


@dataclass(frozen=True)
class Reading:
    consent: Consent | None
    reason: str  # "valid", "missing", "invalid", "expired", "outdated_policy"


class ConsentSigner:
    def __init__(self, secret: str):
        self._signer = TimestampSigner(secret, salt=_SALT)

    def issue(self, categories: tuple[str, ...], policy_version: int) -> tuple[str, Consent]:
        consent_id = secrets.token_hex(16)
        payload = json.dumps({"c": list(categories), "v": policy_version, "id": consent_id}, separators=(",", ":"))
        token = self._signer.sign(urlsafe_b64encode(payload.encode()).rstrip(b"=")).decode("ascii")
        _, timestamp = self._signer.unsign(token, return_timestamp=True)
        return token, Consent(categories, policy_version, consent_id, int(timestamp.timestamp()))

    def read(self, token: str | None, *, policy_version: int, known_categories: tuple[str, ...], max_age: int) -> Reading:
        if not token:
            return Reading(None, "missing")
        try:
            value, signed_at = self._signer.unsign(token, max_age=max_age, return_timestamp=True)
        except SignatureExpired:
            return Reading(None, "expired")
        except BadSignature:
            return Reading(None, "invalid")
        try:
            data = json.loads(urlsafe_b64decode(value + b"=" * (-len(value) % 4)))
            categories, version, consent_id = data["c"], data["v"], data["id"]
        except (ValueError, KeyError, TypeError):
            return Reading(None, "invalid")
        if version != policy_version:
            return Reading(None, "outdated_policy")
        # Categories removed from the config since the choice simply drop out; new ones were never granted.
        kept = tuple(c for c in known_categories if c in categories)
        return Reading(Consent(kept, version, str(consent_id), int(signed_at.timestamp())), "valid")

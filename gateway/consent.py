"""The signed consent token: what the visitor chose, under which rule, for which policy, when.

Modelled on Starlette's session middleware: itsdangerous' TimestampSigner with
a max age, and anything that does not verify (tampered, unsigned, expired, for
an older policy version) reads as *no choice*, never as an error.

The payload is versioned by its keys. Version 1 (before regions) had only `c`, `v` and `id`;
version 2 adds what was offered (`o`), the rule (`r`), the Global Privacy Control flag (`g`)
and the action (`a`). A version-1 token keeps its meaning: it is read as an opt-in choice over
every category the configuration has now, so upgrading never re-asks every visitor by itself.
"""

from __future__ import annotations

import json
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime, timezone

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

COOKIE_NAME = "tg_consent"
NECESSARY = "necessary"
_SALT = "tag-gateway.consent.v1"  # the signing context; unchanged by payload versions
ACTIONS = ("accept_all", "reject_all", "custom", "opt_out_link", "gpc")


@dataclass(frozen=True)
class Consent:
    categories: tuple[str, ...]
    policy_version: int
    consent_id: str
    timestamp: int
    offered: tuple[str, ...] = ()
    rule: str = "opt_in"
    gpc: bool = False
    action: str = "custom"

    @property
    def is_refusal(self) -> bool:
        """Nothing optional allowed: it lives as long as refusals do."""
        return all(c == NECESSARY for c in self.categories)

    def as_json(self) -> dict:
        return {"categories": list(self.categories), "policy_version": self.policy_version, "id": self.consent_id,
                "timestamp": datetime.fromtimestamp(self.timestamp, timezone.utc).isoformat().replace("+00:00", "Z"),
                "rule": self.rule, "gpc": self.gpc, "action": self.action}


@dataclass(frozen=True)
class Reading:
    consent: Consent | None
    reason: str  # "valid", "missing", "invalid", "expired", "outdated_policy", "new_category"


class ConsentSigner:
    def __init__(self, secret: str):
        self._signer = TimestampSigner(secret, salt=_SALT)

    def issue(self, categories: tuple[str, ...], policy_version: int, *, offered: tuple[str, ...] = (),
              rule: str = "opt_in", gpc: bool = False, action: str = "custom") -> tuple[str, Consent]:
        consent_id = secrets.token_hex(16)
        data = {"c": list(categories), "v": policy_version, "id": consent_id, "o": list(offered),
                "r": rule, "g": int(gpc), "a": action}
        payload = json.dumps(data, separators=(",", ":"))
        token = self._signer.sign(urlsafe_b64encode(payload.encode()).rstrip(b"=")).decode("ascii")
        _, timestamp = self._signer.unsign(token, return_timestamp=True)
        return token, Consent(categories, policy_version, consent_id, int(timestamp.timestamp()),
                              tuple(offered), rule, gpc, action)

    def read(self, token: str | None, *, policy_version: int, known_categories: tuple[str, ...],
             max_age: int, refusal_max_age: int | None = None) -> Reading:
        """`max_age` bounds an acceptance, `refusal_max_age` (default: the same) a refusal, in seconds."""
        if not token:
            return Reading(None, "missing")
        refusal_max_age = max_age if refusal_max_age is None else refusal_max_age
        try:
            value, signed_at = self._signer.unsign(token, max_age=max(max_age, refusal_max_age), return_timestamp=True)
        except SignatureExpired:
            return Reading(None, "expired")
        except BadSignature:
            return Reading(None, "invalid")
        try:
            data = json.loads(urlsafe_b64decode(value + b"=" * (-len(value) % 4)))
            categories, version, consent_id = data["c"], data["v"], data["id"]
            offered = data.get("o", known_categories)  # version 1: everything there is now was offered
            rule, gpc, action = data.get("r", "opt_in"), bool(data.get("g", 0)), data.get("a", "custom")
            if not (isinstance(categories, list) and isinstance(offered, (list, tuple)) and isinstance(version, int)):
                raise TypeError("malformed payload")
        except (ValueError, KeyError, TypeError):
            return Reading(None, "invalid")
        # Lowering policy_version must not revive tokens signed for a later one either.
        if version != policy_version:
            return Reading(None, "outdated_policy")
        # Categories removed from the config since the choice simply drop out; new ones were never granted.
        kept = tuple(c for c in known_categories if c in categories)
        consent = Consent(kept, version, str(consent_id), int(signed_at.timestamp()),
                          tuple(offered), str(rule), gpc, str(action))
        age = datetime.now(timezone.utc).timestamp() - consent.timestamp
        if age > (refusal_max_age if consent.is_refusal else max_age):
            return Reading(None, "expired")
        # A category the visitor was never asked about: ask again, without the owner bumping anything.
        if any(c not in offered for c in known_categories if c != NECESSARY):
            return Reading(None, "new_category")
        return Reading(consent, "valid")

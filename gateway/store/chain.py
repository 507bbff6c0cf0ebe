"""The hash chain: a canonical form of each record, and the hashes that link them.

Each record's hash is ``sha256(prev_hash + "\\n" + canonical JSON of the record)``,
where the canonical JSON has sorted keys, no spaces, UTF-8, and the time as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``. It covers the record's position (``seq``) and every
field, except the personal ones (IP prefix, user agent): those enter through
``personal_digest``, a sha256 over them and a random per-record salt. Erasure
removes the personal fields and the salt and keeps the digest, so the chain still
verifies, and the digest can no longer be matched against guessed values.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

FORMAT = 1  # bump (and keep the old form verifiable) if the canonical form ever changes


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def texts_json(texts: dict[str, str]) -> str:
    """The stored form of a set of banner texts; its sha256 is their key."""
    return canonical_json(texts)


def new_salt() -> str:
    return secrets.token_hex(16)


def personal_digest(salt: str, ip_prefix: str | None, user_agent: str | None) -> str:
    return sha256(canonical_json({"salt": salt, "ip_prefix": ip_prefix, "user_agent": user_agent}))


def chained_fields(row: Any) -> dict[str, Any]:
    """What the record hash covers, from a consent_records row (a mapping or an object with attributes)."""
    get = row.get if isinstance(row, dict) else (lambda key: getattr(row, key))
    return {
        "format": FORMAT,
        "seq": int(get("seq")),
        "consent_id": get("consent_id"),
        "decided_at": timestamp(get("decided_at")),
        "action": get("action"),
        "categories": list(get("categories")),
        "offered": list(get("offered")),
        "region": get("region"),
        "rule": get("rule"),
        "gpc": bool(get("gpc")),
        "policy_version": int(get("policy_version")),
        "container_version": get("container_version"),
        "banner_texts_hash": get("banner_texts_hash"),
        "language": get("language"),
        "personal_digest": get("personal_digest"),
    }


def record_hash(prev_hash: str, row: Any) -> str:
    return sha256(prev_hash + "\n" + canonical_json(chained_fields(row)))

"""The hash chain: a canonical form of each record, and the hashes that link them.

Each record's hash is ``sha256(prev_hash + "\\n" + canonical JSON of the record)``,
where the canonical JSON has sorted keys, no spaces, UTF-8, and the time as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``. It covers the record's position (``seq``) and every
field, except the personal ones (IP prefix, user agent): those enter through
``personal_digest``, a sha256 over them and a random per-record salt. Erasure
removes the personal fields and the salt and keeps the digest, so the chain still
verifies, and the digest can no longer be matched against guessed values.

On PostgreSQL the server links each batch itself (migration 0009's function, from PendingHash.pieces): the same
definition in SQL, which ``gateway consents verify`` checks against this one.

Formats (the canonical JSON's ``format`` key). A record's format follows from its row alone,
and verification recomputes the record's own, so records written by an older gateway still verify:

* 1: the fields above. Every record written before the log named sites (migration 0003),
  whose ``site`` is NULL, and any record that names no site.
* 2: format 1 plus ``site``: every record that names its site (all the gateway writes since
  0003). ``site`` NULL is format 1, any other value format 2, so setting, changing or
  clearing a record's site afterwards changes its canonical form and its hash no longer
  matches: a record cannot be moved to another site, nor out of every site.
* 3: format 1 plus ``site`` (even NULL) and ``vendors_refused``: every record of a per-vendor
  choice (site.vendor_choice, since 0004). ``vendors_refused`` NULL keeps formats 1 and 2, so
  every record written before 0004 hashes as it did; setting or clearing the list afterwards
  changes the form and breaks the hash.
* 4: format 3 plus ``vendors_offered`` (``vendors_refused`` even NULL): every record that lists the vendors
  shown when the visitor chose (since 0005). NULL keeps formats 1 to 3, so older records hash as they did.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from json.encoder import encode_basestring as _json_string  # the encoder's own form of a string (ensure_ascii off)
from typing import Any

FORMAT = 2  # what new records are hashed in; bump (and keep the old forms verifiable) if it ever changes
FORMAT_WITHOUT_SITE = 1  # records with no site: the form every record had before 0003, unchanged
FORMAT_WITH_VENDORS = 3  # records of a per-vendor choice (vendors_refused not NULL, since 0004)
FORMAT_WITH_VENDORS_OFFERED = 4  # records that list the vendors shown (vendors_offered not NULL, since 0005)


# One encoder, made once: json.dumps with these options builds a new one per call (a fifth of the call's time,
# and every decision is serialised twice). Same options, same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def timestamp(moment: datetime) -> str:
    if moment.year < 1000:  # strftime does not pad such years to four digits; the hashes of any stored keep its form
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as the strftime above (the fields as they are, the zone left out), in a third of the time.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def texts_json(texts: dict[str, str]) -> str:
    """The stored form of a set of banner texts; its sha256 is their key."""
    return canonical_json(texts)


def new_salt() -> str:
    return secrets.token_hex(16)


def personal_digest(salt: str, ip_prefix: str | None, user_agent: str | None) -> str:
    if type(salt) is str and _str_or_none(ip_prefix) and _str_or_none(user_agent):
        # canonical_json of the three, written out (keys in sorted order): a fifth of a record's hashing time
        return sha256(f'{{"ip_prefix":{_json_or_null(ip_prefix)},"salt":{_json_string(salt)},'
                      f'"user_agent":{_json_or_null(user_agent)}}}')
    return sha256(canonical_json({"salt": salt, "ip_prefix": ip_prefix, "user_agent": user_agent}))


def _str_or_none(value: Any) -> bool:
    return value is None or type(value) is str


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


def chained_fields(row: Any) -> dict[str, Any]:
    """What the record hash covers, from a consent_records row (a mapping or an object with attributes)."""
    get = row.get if isinstance(row, dict) else (lambda key: getattr(row, key))
    fields = {
        "format": FORMAT_WITHOUT_SITE,
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
    # Absent from rows and exports made before 0003: no site, format 1.
    site = row.get("site") if isinstance(row, dict) else getattr(row, "site", None)
    if site is not None:
        fields.update(format=FORMAT, site=site)
    # Absent (None) in rows and exports made before 0004, and for sites without per-vendor choice: unchanged.
    vendors = row.get("vendors_refused") if isinstance(row, dict) else getattr(row, "vendors_refused", None)
    if vendors is not None:
        fields.update(format=FORMAT_WITH_VENDORS, site=site, vendors_refused=list(vendors))
    shown = row.get("vendors_offered") if isinstance(row, dict) else getattr(row, "vendors_offered", None)
    if shown is not None:
        fields.update(format=FORMAT_WITH_VENDORS_OFFERED, site=site,
                      vendors_refused=None if vendors is None else list(vendors), vendors_offered=list(shown))
    return fields


def record_hash(prev_hash: str, row: Any) -> str:
    return sha256(prev_hash + "\n" + canonical_json(chained_fields(row)))


class PendingHash:
    """`record_hash` of a row whose place in the chain is not known yet.

    The canonical JSON is built when the row is (outside the database's write lock); appending it
    then only puts its seq and its link into the text and hashes it: the part of the work that has to
    wait for the chain head. Gives exactly what record_hash gives for the row with that seq."""

    __slots__ = ("_before", "_after")
    _SEQ = '"seq":0'  # a key's quotes are the only unescaped ones in the text: this occurs once

    def __init__(self, row: Any):
        segments = _shapes.segments(row)
        consent_id, digest = row["consent_id"], row["personal_digest"]
        if segments is not None and type(consent_id) is str and type(digest) is str:
            head, after_id, after_time, after_digest, self._after = segments
            self._before = (f"{head}{_json_string(consent_id)}{after_id}{_json_string(timestamp(row['decided_at']))}"
                            f"{after_time}{_json_string(digest)}{after_digest}")
            return
        text = canonical_json(chained_fields({**row, "seq": 0}))
        before, found, after = text.partition(self._SEQ)
        if not found or self._SEQ in after:
            raise ValueError("the canonical form has no single seq")  # a change of chained_fields broke this
        self._before, self._after = before + '"seq":', after

    def __call__(self, prev_hash: str, seq: int) -> str:
        return sha256(f"{prev_hash}\n{self._before}{int(seq)}{self._after}")

    def pieces(self) -> tuple[str, str]:
        """The canonical text before the seq and after it: PostgreSQL hashes them in its append function
        (migration 0009) as __call__ does here."""
        return self._before, self._after


class _Shapes:
    """The canonical text of a record around the four fields that differ from one decision to the next.

    Everything else the hash covers (the action, the categories offered and chosen, the banner texts'
    hash, container, language, region, rule, site, vendors) repeats across a site's decisions: its
    text is made once per distinct combination (a shape) and kept, and a record's text is that shape's
    pieces with its consent id, time, personal digest and seq between them. Per record, 2.9 us instead
    of 9.7 for the whole text (measured); a shape is learnt the second time it is met.

    A shape is kept only when its values are strings (numbers that compare equal, 1 and 1.0, would
    write different texts; gpc and policy_version are normalised by chained_fields) and when
    chained_fields covers no field the shape does not name."""

    VARYING = ("consent_id", "decided_at", "personal_digest", "seq")  # in the canonical (sorted) key order
    STRINGS = ("action", "banner_texts_hash", "container_version", "language", "region", "rule", "site")
    LISTS = ("categories", "offered", "vendors_refused", "vendors_offered")
    SHAPED = (*STRINGS, *LISTS, "gpc", "policy_version")  # every one of them is in `key` below
    MAX = 1024  # shapes kept (a site has a handful at a time; a new container version or region adds some)

    def __init__(self) -> None:
        self._known: dict[tuple, tuple[str, ...] | None] = {}
        self._seen: set[tuple] = set()  # shapes met once, not learnt yet

    def segments(self, row: Any) -> tuple[str, ...] | None:
        refused, shown = row.get("vendors_refused"), row.get("vendors_offered")
        key = (row["action"], row["banner_texts_hash"], row["container_version"], row["language"], row["region"],
               row["rule"], row.get("site"), tuple(row["categories"]), tuple(row["offered"]),
               None if refused is None else tuple(refused), None if shown is None else tuple(shown),
               row["gpc"], row["policy_version"])
        try:
            return self._known[key]
        except KeyError:
            pass
        if key not in self._seen:
            # Learning a shape costs twice the whole text (20 us): a shape seen once (a rare region and choice)
            # may never come back, so it is learnt when it does.
            if len(self._seen) >= self.MAX:
                self._seen.clear()
            self._seen.add(key)
            return None
        segments = self._learn(row)
        if len(self._known) >= self.MAX:
            self._known.clear()
        self._known[key] = segments
        return segments

    def _learn(self, row: Any) -> tuple[str, ...] | None:
        """The shape's pieces, or None: these values are written per record (the whole text each time)."""
        fields = chained_fields({**row, "seq": 0})
        unnamed = set(fields) - {"format", *self.VARYING, *self.SHAPED}
        if unnamed:
            raise ValueError(f"chained_fields covers {sorted(unnamed)}: name them in _Shapes")  # a change broke this
        if not all(_str_or_none(row.get(name)) for name in self.STRINGS) or not all(
                row.get(name) is None or all(type(item) is str for item in row[name]) for name in self.LISTS):
            return None
        marks = [f"\0{name}\0" for name in self.VARYING]  # JSON writes NUL escaped: each mark's text is unique
        text = canonical_json({**fields, **dict(zip(self.VARYING, marks))})
        pieces, rest = [], text
        for mark in map(_json_string, marks):
            if text.count(mark) != 1:
                return None
            before, found, rest = rest.partition(mark)
            if not found:
                return None
            pieces.append(before)
        return (*pieces, rest)


_shapes = _Shapes()


def link(batch: list[tuple[dict[str, Any], str, PendingHash]], seq: int, prev_hash: str) -> tuple[int, str]:
    """Give each row of a batch of (row, banner texts, pending hash) its place after the chain head (seq,
    prev_hash): its seq, prev_hash and record_hash. Returns the new head."""
    for row, _, pending_hash in batch:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev_hash
        row["record_hash"] = prev_hash = pending_hash(prev_hash, seq)
    return seq, prev_hash

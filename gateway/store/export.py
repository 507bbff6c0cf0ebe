"""`gateway consents export`: every field of every record, as JSON Lines or CSV, oldest first.

Banner texts are resolved: each row carries the exact texts the visitor was shown
(``banner_texts``, a JSON object; in CSV a JSON string) next to their hash
(``banner_texts_hash``), so an export handed to a regulator stands on its own.
In CSV, ``categories`` and ``offered`` are space-separated category keys (keys never
hold spaces); ``gpc`` and ``erased`` are ``true``/``false``; empty cells are nulls.
``site`` is the site the decision was made on (null in records written before the log
named sites: see chain.py's formats). ``vendors_refused`` lists the vendors refused one by one inside
the allowed categories (null: no per-vendor choice was offered; in CSV a JSON list, so ``[]`` stays
apart from null).
With ``personal_digest``, ``prev_hash`` and ``record_hash`` an export holds everything the
chain covers, so anyone can recompute the hashes (see chain.py) without database access.
An export of one site (``--site``) has gaps in ``seq``; each row's hash still checks
against its own ``prev_hash``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from gateway.store.chain import timestamp
from gateway.store.log import ConsentLog

FIELDS = ["seq", "site", "consent_id", "decided_at", "action", "categories", "vendors_refused", "offered", "vendors_offered", "region",
          "rule", "gpc",
          "policy_version", "container_version", "language", "ip_prefix", "user_agent", "personal_digest", "erased",
          "erased_at",
          "banner_texts_hash", "banner_texts", "prev_hash", "record_hash"]
FORMATS = ("jsonl", "csv")


def rows(log: ConsentLog, since: datetime | None = None, site: str | None = None) -> Iterator[dict[str, Any]]:
    texts = log.banner_text_versions()
    for record in log.records(since=since, site=site):
        yield {
            "seq": record.seq, "site": record.site, "consent_id": record.consent_id,
            "decided_at": timestamp(record.decided_at), "action": record.action,
            "categories": list(record.categories),
            "vendors_refused": None if record.vendors_refused is None else list(record.vendors_refused),
            "offered": list(record.offered),
            "vendors_offered": None if record.vendors_offered is None else list(record.vendors_offered),
            "region": record.region, "rule": record.rule, "gpc": record.gpc, "policy_version": record.policy_version,
            "container_version": record.container_version, "language": record.language,
            "ip_prefix": record.ip_prefix, "user_agent": record.user_agent,
            "personal_digest": record.personal_digest, "erased": record.erased,
            "erased_at": timestamp(record.erased_at) if record.erased_at else None,
            "banner_texts_hash": record.banner_texts_hash, "banner_texts": texts.get(record.banner_texts_hash),
            "prev_hash": record.prev_hash, "record_hash": record.record_hash,
        }


def write(log: ConsentLog, out: IO[str], fmt: str = "jsonl", since: datetime | None = None,
          site: str | None = None) -> int:
    """Write the export to `out` (only `site`'s records if given); returns the number of records."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "jsonl":
        for row in rows(log, since, site):
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows(log, since, site):
        writer.writerow({key: _cell(key, value) for key, value in row.items()})
        count += 1
    return count


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in ("vendors_refused", "vendors_offered"):  # JSON, so an empty list (nothing refused) stays apart from null (not offered)
        return json.dumps(value)
    if key in ("categories", "offered"):
        return " ".join(value)
    if key == "banner_texts":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""PostgreSQL's append path: a batch of decisions in two round trips, from a thread or from the event loop.

A round trip costs far more than a row, so a batch makes two. (Measured on 2 cores, per batch of one record: the
earlier path of five statements cost ~560 us of the gateway's CPU and ~420 us of PostgreSQL's; these two cost
~240 and ~380 us; each further record adds ~25 and ~35 us.)

1. ``BEGIN; SELECT ... FOR UPDATE`` of the chain head: its answer is needed to link the records.
2. One statement that stores the banner texts and the records (each table's rows as one JSON document,
   unpacked by ``json_populate_recordset`` into the table's own row type, whatever the batch's size) and moves
   the head, then ``COMMIT``.

Both go as one query string each, with the values bound by psycopg on the client (a ClientCursor on a connection
in autocommit mode, so psycopg sends no BEGIN of its own). psycopg's pipeline mode would also make two round
trips, but under asyncio it polls the socket for writing while it waits for the answer, which spun the event
loop (a tenth of its time under load, measured).

The rows are the ones the SQLite path binds column by column (ConsentLog._row, linked by chain.link): the JSON
documents carry the same values (lists for the JSON columns, UTC times in ISO 8601), so a record reads back as it
was hashed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gateway.store import chain

BEGIN_AND_LOCK_HEAD = "BEGIN; SELECT head_seq, head_hash FROM chain_state WHERE id = 1 FOR UPDATE"
APPEND_AND_COMMIT = (
    "WITH texts AS (INSERT INTO banner_texts "
    "SELECT * FROM json_populate_recordset(NULL::banner_texts, %s::json) ON CONFLICT (hash) DO NOTHING), "
    "records AS (INSERT INTO consent_records "
    "SELECT * FROM json_populate_recordset(NULL::consent_records, %s::json)) "
    "UPDATE chain_state SET head_seq = %s, head_hash = %s WHERE id = 1; COMMIT")

Batch = list[tuple[dict[str, Any], str, chain.PendingHash]]


class Attempt:
    """How far one try of a batch got: once `committing` is set, its COMMIT may have landed (never retried)."""

    __slots__ = ("committing",)

    def __init__(self) -> None:
        self.committing = False


def _utc_text(value: Any) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("naive datetime given to the consent log")
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the consent log")


json_document = json.JSONEncoder(default=_utc_text, ensure_ascii=False, separators=(",", ":")).encode


def _append_parameters(batch: Batch, head: tuple[Any, str], now: datetime) -> tuple[str, str, int, str]:
    texts = {row["banner_texts_hash"]: text for row, text, _ in batch}  # usually one set for the whole batch
    seq, head_hash = chain.link(batch, int(head[0]), head[1])
    return (json_document([{"hash": h, "texts": t, "first_seen": now} for h, t in texts.items()]),
            json_document([row for row, _, _ in batch]), seq, head_hash)


def append(cursor: Any, batch: Batch, now: datetime, attempt: Attempt) -> None:
    """Append and commit through a psycopg ClientCursor whose connection is in autocommit mode. Raises
    psycopg.Error (the connection may be left in a failed transaction: roll it back or close it)."""
    cursor.execute(BEGIN_AND_LOCK_HEAD)
    cursor.nextset()
    head = cursor.fetchone()
    attempt.committing = True
    cursor.execute(APPEND_AND_COMMIT, _append_parameters(batch, head, now))


async def append_async(cursor: Any, batch: Batch, now: datetime, attempt: Attempt) -> None:
    """`append` through an AsyncClientCursor."""
    await cursor.execute(BEGIN_AND_LOCK_HEAD)
    cursor.nextset()
    head = await cursor.fetchone()
    attempt.committing = True
    await cursor.execute(APPEND_AND_COMMIT, _append_parameters(batch, head, now))

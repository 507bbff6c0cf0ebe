"""PostgreSQL's append path: a batch of decisions in one statement and one round trip, from a thread or from the
event loop.

The statement calls tag_gateway_append (migration 0009 has it and says why): it locks the chain head, links the
records after it (sha256 on the server, of the same text chain.PendingHash would hash), stores the banner texts
and the records (each table's rows as one JSON document, unpacked by json_populate_recordset into the table's own
row type, whatever the batch's size), moves the head and commits (autocommit: the statement is its own
transaction). The head is locked only while the server runs that statement, never while an answer waits for the
gateway's event loop. (Measured on 2 cores, sync client, per batch of one record: the two round trips before
this cost ~167 us of the gateway's CPU and ~300 us of PostgreSQL's; this one ~92-121 and ~193. Batches of 16:
~15 and ~37 us a record instead of ~20 and ~40.)

From the event loop (POST /consent), the statement goes with its three documents as parameters, bound by the
server (pg_wire.py says why it skips psycopg's cursors); from the committer thread (a fallback), as one query
string with the values bound by psycopg on the client (a ClientCursor). Both on a connection in autocommit mode.
psycopg's pipeline mode spun the event loop under asyncio (it polls the socket for writing while it waits for
the answer: a tenth of the loop's time under load, measured).

The rows are the ones the SQLite path binds column by column (ConsentLog._row): the JSON documents carry the same
values (lists for the JSON columns, UTC times in ISO 8601), so a record reads back as it was hashed.

Once the statement is sent, only its answer tells whether the batch committed, so a failed batch is never sent
again; a connection the server closed since the last batch (a restart) is found before anything is sent on it
(`server_closed`) and replaced.
"""

from __future__ import annotations

import json
import select
from datetime import datetime
from typing import Any

from gateway.store import chain, pg_wire

APPEND_AND_COMMIT = "SELECT * FROM tag_gateway_append(%s::json, %s::json, %s::json)"  # a ClientCursor binds
APPEND_AND_COMMIT_BOUND = b"SELECT * FROM tag_gateway_append($1, $2, $3)"  # the server binds (pg_wire)
_JSON_PARAMETERS = (pg_wire.JSON_OID,) * 3

Batch = list[tuple[dict[str, Any], str, chain.PendingHash]]


class ChainMismatch(RuntimeError):
    """tag_gateway_append hashed a batch otherwise than chain.PendingHash (a bug in one of them)."""


def _utc_text(value: Any) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("naive datetime given to the consent log")
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the consent log")


# check_circular off: the documents are rows this module builds, never nested in themselves.
json_document = json.JSONEncoder(default=_utc_text, ensure_ascii=False, separators=(",", ":"),
                                 check_circular=False).encode


def _append_parameters(batch: Batch, now: datetime) -> tuple[str, str, str]:
    texts = {row["banner_texts_hash"]: text for row, text, _ in batch}  # usually one set for the whole batch
    pieces: list[str] = []
    for position, (row, _, pending_hash) in enumerate(batch, 1):
        row["seq"] = position  # the function makes it head_seq + position, and fills prev_hash and record_hash
        pieces.extend(pending_hash.pieces())
    return (json_document([{"hash": h, "texts": t, "first_seen": now} for h, t in texts.items()]),
            json_document([row for row, _, _ in batch]), json_document(pieces))


def server_closed(connection: Any) -> bool:
    """Whether the server has closed this idle psycopg connection since its last use (a restart, an idle timeout,
    pg_terminate_backend). It says so (a FATAL message) and closes the socket; an idle connection's socket has
    nothing to read otherwise, so the usual check is one poll that does not wait (~2 us). Checked before a batch
    is sent: once sent, a failed batch may have committed."""
    import psycopg

    if connection.closed:
        return True
    for _ in range(3):  # the message, then the end of the stream: libpq sees the close on the read after
        if not _readable(connection.pgconn.socket):
            return False
        try:
            connection.pgconn.consume_input()
        except psycopg.OperationalError:
            return True
        if connection.closed:
            return True
    return False


def _readable(socket: int) -> bool:
    poller = select.poll()
    poller.register(socket, select.POLLIN)
    return bool(poller.poll(0))


def append(cursor: Any, batch: Batch, now: datetime) -> None:
    """Append and commit through a psycopg ClientCursor whose connection is in autocommit mode, and give each row
    its seq, prev_hash and record_hash as stored (the thread's callers answer with them). Raises psycopg.Error, or
    ChainMismatch after the commit when the server linked the batch otherwise than chain.link does (a bug)."""
    cursor.execute(APPEND_AND_COMMIT, _append_parameters(batch, now))
    previous_seq, previous_hash, new_head_hash = cursor.fetchone()
    _, linked_hash = chain.link(batch, int(previous_seq), previous_hash)
    if linked_hash != new_head_hash:
        raise ChainMismatch(f"the database linked the batch to {new_head_hash}, the gateway to {linked_hash}: "
                            "run `gateway consents verify`")


async def append_async(connection: Any, batch: Batch, now: datetime) -> None:
    """`append` from the event loop, through an AsyncConnection in autocommit mode (pg_wire: the three documents
    bound as parameters, no cursor). Raises psycopg.Error."""
    encoding = connection.info.encoding  # what the session's client_encoding says the bytes are in
    parameters = [document.encode(encoding) for document in _append_parameters(batch, now)]
    await pg_wire.execute(connection, APPEND_AND_COMMIT_BOUND, parameters, _JSON_PARAMETERS)
    # The rows are not read again (the loop's callers answer without them): not linked here, which would hash
    # each record a second time. test_pg_append.py and `gateway consents verify` check the server's hashes.

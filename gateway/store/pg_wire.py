"""One statement with bound parameters, sent on a psycopg AsyncConnection's libpq handle from the event loop:
what the consent log's batch needs, without psycopg's cursor layer.

Why: POST /consent's batch on PostgreSQL is one statement with three JSON documents for parameters, run a few
thousand times a second. Through an AsyncClientCursor each run went through psycopg's query conversion (the
documents escaped into the query text, ~25 KB for 17 decisions, and parsed back as literals by the server),
its generators and its result machinery: 170 us of the gateway's CPU per batch of 17, measured in one process
with uvloop against PostgreSQL on the same host; this path took 71 us for the same batches (8 runs each,
interleaved, medians). The parameters go as they are, in the extended protocol (an unnamed statement, so
nothing is prepared on the session: a pooler in transaction mode stays fine), and nothing is escaped.

The connection must be idle, in autocommit mode and used by nothing else meanwhile (PgLoopCommitter owns its
own). An error from the server is raised as psycopg raises it (psycopg.errors, with its SQLSTATE class); a lost
connection as psycopg.OperationalError. When the wait is cancelled (a deadline), the connection is left in the
middle of the exchange: the caller must discard it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

JSON_OID = 114  # pg_type's oid of json: the parameters' type, stated so the server need not infer it


async def execute(connection: Any, query: bytes, parameters: Sequence[bytes], types: Sequence[int]) -> list[tuple]:
    """Run `query` ($1, $2, ... for the parameters, given as text in the client encoding) and return its rows
    (each value as text, or None for NULL). Raises psycopg.Error."""
    from psycopg import errors, pq

    pgconn, encoding = connection.pgconn, connection.info.encoding
    pgconn.send_query_params(query, parameters, types)
    socket = pgconn.socket
    # A large batch may not fit the socket's buffer at once. While the rest waits, whatever the server sends is
    # read too (libpq's advice for a non-blocking send: the server may wait for its own output to be read).
    while pgconn.flush():
        if await _ready(socket, writing=True):
            pgconn.consume_input()
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        await _ready(socket, writing=False)
    result, rows = pgconn.get_result(), []
    failure = None
    if result is None:
        failure = errors.OperationalError("the server answered nothing to the statement")
    elif result.status == pq.ExecStatus.TUPLES_OK or result.status == pq.ExecStatus.COMMAND_OK:
        rows = [tuple(None if value is None else value.decode(encoding)
                      for value in (result.get_value(row, column) for column in range(result.nfields)))
                for row in range(result.ntuples)]
    else:
        failure = errors.error_from_result(result, encoding=encoding)
    while pgconn.get_result() is not None:  # the end of the exchange: the connection is idle again
        pass
    if failure is not None:
        raise failure
    return rows


async def _ready(socket: int, *, writing: bool) -> bool:
    """Until the socket can be read, or also written when `writing`: one wait on the loop, removed however it ends.
    True when it can be read."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bool] = loop.create_future()

    def wake(readable: bool) -> None:
        if not ready.done():
            ready.set_result(readable)

    loop.add_reader(socket, wake, True)
    if writing:
        loop.add_writer(socket, wake, False)
    try:
        return await ready
    finally:
        loop.remove_reader(socket)
        if writing:
            loop.remove_writer(socket)

"""Group commit on the event loop for PostgreSQL: the loop writes and commits each batch through an asyncio
connection of its own (psycopg's AsyncConnection), and no thread is involved.

Why: with the GroupCommitter's thread, the loop waited for the GIL each time it let go of it (loop_batches.py),
and the thread's share of the durable POST /consent grew with it (measured on 2 cores, 2 workers: loop 570 us,
committer thread 120-180 us and PostgreSQL 85-130 us of CPU per request, against 420 us with the write off). Here
a batch's round trips are awaited like any other I/O of the loop: the loop serves requests meanwhile.

Each batch is one query string and one round trip, which commits (the consent log's, pg_append.py; the event
outbox's, forwarding/outbox.py); a caller is answered only after it returned, and a failed batch fails every caller
of it. Once sent, only its answer tells whether a batch committed, so a failed batch is never sent again: a
connection the server closed since the last batch (a restart) is found before anything is sent on it and
replaced, so nobody gets an error for it. A batch that takes longer than the callers' wait (a hung server) is
given up and its connection closed; its callers get their 503 at their deadline. PostgreSQL queues lock waiters
itself (lock_timeout bounds the wait): no write turns here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gateway.store import database
from gateway.store.errors import LogUnavailable, one_line
from gateway.store.group_commit import MAX_BATCH, GroupCommitter
from gateway.store.loop_batches import LoopBatcher
from gateway.store.pg_append import server_closed

log = logging.getLogger("gateway.store")

Write = Callable[[Any, list[Any]], Awaitable[Sequence[Any]]]


class PgLoopCommitter(LoopBatcher):
    """`await submit(item)` returns `write`'s result for the item once its batch is committed; raises LogUnavailable.

    `write(connection, items)` writes and commits the batch through the committer's psycopg AsyncConnection (in
    autocommit mode: the statements say where the transaction begins and ends) in one round trip, and returns one
    result per item. `failed(error)` turns a database error into the LogUnavailable its callers get."""

    def __init__(self, engine: Any, write: Write, *, fallback: GroupCommitter,
                 failed: Callable[[Exception], LogUnavailable], wait_timeout: float, busy_timeout: float,
                 what: str = "commit", max_batch: int = MAX_BATCH):
        self._engine = engine
        self._write_batch = write
        self._failed = failed
        self._session = database.postgresql_session(busy_timeout)
        super().__init__(fallback=fallback, wait_timeout=wait_timeout, what=what, max_batch=max_batch)

    def _reset(self) -> None:
        super()._reset()
        self._connection: Any = None  # a forked child's is not the parent's: it opens its own
        self._task: asyncio.Task | None = None  # the batch in flight (the loop keeps only a weak reference)

    def _loop_changed(self) -> None:
        self._discard()  # the last loop may have closed in the middle of a batch on it

    async def _warm(self) -> None:
        # The connection takes a TCP (and TLS) handshake, authentication and the session's settings: 3-8 ms to a
        # server on the same host, more across a network; the first decisions of each worker waited for it.
        if self._connection is None:
            async with asyncio.timeout(self._wait_timeout):
                await self._open()

    def _run_batch(self) -> None:
        batch = self._take()
        if not batch:  # every caller went away meanwhile
            self._finish([])
            return
        assert self._loop is not None
        self._task = self._loop.create_task(self._commit(batch))

    async def _commit(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            async with asyncio.timeout(self._wait_timeout):
                results = await self._write_and_commit([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception as error:  # noqa: BLE001 - every caller of the batch is told
            self._discard()
            self._finish(batch, error=error)
        else:
            self._finish(batch, results)

    async def _write_and_commit(self, items: list[Any]) -> list[Any]:
        import psycopg

        if self._connection is not None and server_closed(self._connection):
            self._discard()  # closed by the server since the last batch (a restart): nothing sent on it yet
        connection = self._connection if self._connection is not None else await self._open()
        try:
            return list(await self._write_batch(connection, items))
        except psycopg.Error:
            self._discard()  # whatever its transaction's state: the server rolls back what did not commit
            raise

    async def _open(self) -> Any:
        import psycopg

        args, options = self._engine.dialect.create_connect_args(self._engine.url)
        connection = await psycopg.AsyncConnection.connect(*args, **options, autocommit=True,
                                                          connect_timeout=database.CONNECT_TIMEOUT)
        try:
            async with connection.cursor() as cursor:
                for statement in self._session:
                    await cursor.execute(statement)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    def _discard(self) -> None:
        """Close the connection (after a failure, whatever its transaction's state: the server rolls it back)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            # AsyncConnection.close() only finishes the libpq connection, which does not block: done here at once.
            connection.pgconn.finish()

    def _problem(self, error: Exception) -> str:
        import psycopg

        if isinstance(error, LogUnavailable):
            return str(error)
        if isinstance(error, psycopg.Error | OSError):
            return str(self._failed(error))
        if isinstance(error, TimeoutError):
            return f"cannot {self._what}: no answer from the database within {self._wait_timeout:g} s"
        log.error("cannot %s: %s", self._what, one_line(error), exc_info=error)  # a bug: with its traceback
        return f"cannot {self._what}: {type(error).__name__}: {one_line(error)}"

    def close(self) -> None:
        """Callers still queued are told the log is closed; the connection is closed."""
        self._closed = True
        self._refuse_pending()
        self._discard()

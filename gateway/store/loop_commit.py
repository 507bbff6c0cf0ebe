"""Group commit on the event loop for SQLite: the loop writes each batch, a thread only commits it.

Why not GroupCommitter (group_commit.py) for POST /consent: there the committer thread runs each
batch's Python (building statements, binding rows, settling callers) while the event loop serves
requests in the same process. Each time the loop lets go of the GIL (a socket send, a flock, the rate
limiter's SQLite call) the committer takes it, and the loop waits for it back. Measured on 2 cores
with 2 workers: the durable POST /consent answered 0.57-0.61 x the requests of the same server with
the write off; with a committer whose commit did nothing at all, 0.26 x. The database's own work was
not the limit. Here the loop runs a batch's statements itself (about 15 us of SQLite per record, plus
binding the values) and the thread does only what waits for the disk: COMMIT, with its fsync. That thread runs a
few lines of Python per batch, so it rarely holds the GIL when the loop wants it (0.72-0.78 x in the
same runs).

One batch, in order:
1. On the loop: take the write turn (database.WriterTurns) if it is free; else the thread waits for
   it (flock, holding no GIL) and hands it to the loop.
2. On the loop, holding the turn: BEGIN IMMEDIATE without any busy wait, then `write` the batch.
3. On the thread: COMMIT, give the turn back, hand the results to the loop.
4. On the loop: answer each caller of the batch. Whatever queued meanwhile is the next batch.

So a caller is answered only after its batch's COMMIT returned, as with GroupCommitter, and a failed
commit fails every caller of its batch. The loop never waits for a lock: writers that take no turns
(an erase from the CLI, the email-open counters) can hold SQLite's lock; when BEGIN finds it taken,
that batch's callers go through the fallback GroupCommitter instead, which waits on its own thread.
They go there too when a second event loop of the process calls while the first one still runs (a
server runs one loop per worker; Starlette's TestClient one per request, each closed before the next).

Used by the consent log (POST /consent) and the event outbox (POST /collect) on SQLite; on PostgreSQL, whose
statements are network round trips the loop can await like any other I/O, pg_loop_commit.py does the whole
batch on the loop. Both share their callers' side (queue, deadlines, answers) through loop_batches.py.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from gateway.store import database
from gateway.store.errors import LogUnavailable, one_line
from gateway.store.group_commit import MAX_BATCH, GroupCommitter
from gateway.store.loop_batches import ELSEWHERE, LoopBatcher

log = logging.getLogger("gateway.store")


def connection_without_waits(engine: Any) -> Any:
    """A LoopCommitter's SQLite connection from `engine`: out of its pool (it has no busy timeout, which no other
    user of the pool expects), with the engine's other connect-time settings (WAL, synchronous=FULL).

    Its statement journals stay in memory (temp_store): a batch's multi-row INSERT keeps one, and past 64 KiB (a
    batch of about 25 records) SQLite moved it to a file it created in /var/tmp and deleted again, per commit: the
    kernel time of the durable write in such batches fell from 30 to 18 us a record without it (measured). A batch
    is at most MAX_BATCH rows, so the journal stays small; the pool's connections (purges, migrations, exports) keep
    SQLite's default."""
    connection = engine.raw_connection()
    connection.detach()  # closed, not given back, when it is dropped
    connection.dbapi_connection.execute("PRAGMA busy_timeout = 0")
    connection.dbapi_connection.execute("PRAGMA temp_store = MEMORY")
    return connection


def _is_busy(error: sqlite3.Error) -> bool:
    """SQLITE_BUSY or one of its extended codes: another connection holds the lock."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class LoopCommitter(LoopBatcher):
    """`await submit(item)` returns `write`'s result for the item once its batch is committed; raises LogUnavailable.

    `engine`: a SQLite engine (database.create); the committer keeps a connection of its own
    (connection_without_waits) and its own write turns (a lock is held per open file).
    `write(connection, cursor, items)` runs the batch's statements inside the transaction begun here and
    returns one result per item. `fallback` commits what the loop cannot (see above); `failed(error)` turns a
    database error into the LogUnavailable its callers get."""

    def __init__(self, engine: Any, write: Callable[[Any, Any, list[Any]], Sequence[Any]], *,
                 fallback: GroupCommitter, failed: Callable[[Exception], LogUnavailable],
                 wait_timeout: float, what: str = "commit", max_batch: int = MAX_BATCH):
        self._connect = lambda: connection_without_waits(engine)
        self._write_batch = write
        self._turns = database.WriterTurns(engine.url)
        self._failed = failed
        super().__init__(fallback=fallback, wait_timeout=wait_timeout, what=what, max_batch=max_batch)

    def _reset(self) -> None:
        """Fresh state (also in a forked child: the parent's connection, thread and loop are not its own)."""
        super()._reset()
        self._connection: Any = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    # -- the batch's steps on the loop ---------------------------------------------------------------

    def _run_batch(self) -> None:
        try:
            free = self._turns.try_take()
        except Exception as error:  # noqa: BLE001 - the lock file cannot be opened (LogUnavailable) or locked
            self._finish(self._take(), error=error)
            return
        if free:
            self._write()
        else:
            self._to_thread(self._wait_for_turn, self._loop)

    def _turn_taken(self, error: Exception | None) -> None:
        if error is not None:
            self._finish(self._take(), error=error)
        else:
            self._write()

    def _write(self) -> None:
        """Holding the turn: begin, run the batch's statements, and hand the COMMIT to the thread."""
        batch = self._take()
        if not batch:  # every caller went away meanwhile
            self._give_back()
            self._finish([])
            return
        try:
            connection = self._connection if self._connection is not None else self._open()
            cursor = connection.cursor()
            try:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as error:
                    if not _is_busy(error):
                        raise
                    # A writer that takes no turns holds the database: its callers wait elsewhere.
                    self._give_back()
                    self._finish(batch, results=[ELSEWHERE] * len(batch))
                    return
                results = list(self._write_batch(connection, cursor, [item for item, _ in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
            finally:
                cursor.close()
        except Exception as error:  # noqa: BLE001 - answered below, as a commit failure would be
            self._drop()
            self._give_back()
            self._finish(batch, error=error)
            return
        self._to_thread(self._commit, self._loop, connection, batch, results)

    # -- the thread: waits for the turn, commits ---------------------------------------------------

    def _to_thread(self, job: Callable[..., None], *args: Any) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"loop-commit ({self._what})", daemon=True)
            self._thread.start()
        self._jobs.put((job, args))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args = job
            function(*args)

    def _wait_for_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._turns.take()
            error = None
        except Exception as exc:  # noqa: BLE001 - told to the batch's callers
            error = exc
        if not self._post(loop, self._turn_taken, error) and error is None:
            self._give_back()  # nobody is left to write with it; the other workers are waiting for it

    def _commit(self, loop: asyncio.AbstractEventLoop, connection: Any, batch: list, results: list) -> None:
        error = None
        try:
            connection.commit()
        except Exception as exc:  # noqa: BLE001 - never retried: it may have landed; nobody is acknowledged
            error = exc
            self._drop()
        finally:
            self._give_back()
        self._post(loop, self._finish, batch, results, error)

    def _post(self, loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> bool:
        try:
            loop.call_soon_threadsafe(callback, *args)
            return True
        except RuntimeError:  # that loop is closed: its requests are gone; the next loop starts afresh
            self._pending.clear()
            self._busy = False
            return False

    # -- the connection and the turn ---------------------------------------------------------------

    def _open(self) -> Any:
        self._connection = self._connect()
        return self._connection

    def _drop(self) -> None:
        """After a failure: no transaction may stay open; the next batch opens a fresh connection."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - thrown away anyway
            pass
        try:
            connection.invalidate()
        except Exception:  # noqa: BLE001
            pass

    def _give_back(self) -> None:
        try:
            self._turns.give_back()
        except OSError:
            log.exception("%s: giving back the write turn failed", self._what)

    def _problem(self, error: Exception) -> str:
        if isinstance(error, LogUnavailable):
            return str(error)
        if isinstance(error, sqlite3.Error):
            return str(self._failed(error))
        log.error("cannot %s: %s", self._what, one_line(error), exc_info=error)  # a bug: with its traceback
        return f"cannot {self._what}: {type(error).__name__}: {one_line(error)}"

    def close(self) -> None:
        """Stop the thread after what it was given; callers still queued are told the log is closed."""
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            self._jobs.put(None)
            thread.join(timeout=self._wait_timeout)
        self._turns.close()
        self._refuse_pending()
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - closing at shutdown
                pass
            self._connection = None

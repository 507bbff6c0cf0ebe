"""Group commit: several callers' writes in one transaction, each caller waiting for its batch's commit.

Why: a durable commit costs a flush to disk (SQLite's WAL fsynced with ``synchronous=FULL``;
PostgreSQL's WAL flush with ``synchronous_commit`` on). One commit per decision would cap
POST /consent at the disk's flush rate; one commit per *batch* shares that cost.

Callers hand their item to `GroupCommitter.submit` and block. One committer thread waits for the
database's write turn (`turn`: SQLite's writing processes take turns, database.WriterTurns), then takes
everything queued so far, commits it with one call of the `commit` function, then wakes
each caller of that batch with its result, or every caller of the batch with the batch's
error. So `submit` returns only after its item was committed, and never acknowledges one
that was not. No delay is added to gather a batch: while one commit is in flight the next
batch queues up by itself, so a lone caller pays one commit and a crowd shares them. Taking the turn
before the batch matters with several worker processes: what arrives while another process commits
joins this batch. (Taken the other way round, two workers on two cores wrote batches of 7-10 records
and answered about 15% fewer durable POST /consent, measured in interleaved runs.)

Callers on an event loop `await submit_async(item)` instead: no thread is parked per request
(handing each request to a thread pool only to block it there cost the server more CPU than the
insert itself), and the committer wakes each loop once per batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from gateway.forks import in_forked_child
from gateway.store.errors import LogUnavailable, one_line

log = logging.getLogger("gateway.store")

MAX_BATCH = 256  # bounds one transaction's size (and a batch's time) when a crowd queues behind a slow commit


class _Waiter:
    """A thread blocked in `submit`."""

    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item: Any):
        self.item = item
        self.done = threading.Event()
        self.result: Any = None
        self.error: str | None = None

    def settle(self, result: Any, error: str | None) -> None:
        self.result, self.error = result, error
        self.done.set()


class _AsyncWaiter:
    """A coroutine awaiting `submit_async`: settled on its own event loop's thread."""

    __slots__ = ("item", "loop", "future")

    def __init__(self, item: Any, loop: asyncio.AbstractEventLoop):
        self.item = item
        self.loop = loop
        self.future: asyncio.Future = loop.create_future()


class Expired(Exception):
    """No commit settled a caller within its time (set on its future by a timer; group_commit.py and
    loop_batches.py)."""


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(Expired())


async def answer_of(future: asyncio.Future, withdraw: Callable[[], None], what: str, wait_timeout: float) -> Any:
    """A caller's outcome once its batch settled it. A caller whose request went away (cancelled) or whose
    deadline passed (Expired) is withdrawn first: not written if no batch took it yet. Taken or not, a passed
    deadline answers LogUnavailable: nobody is acknowledged without a commit."""
    try:
        return await future
    except asyncio.CancelledError:
        withdraw()
        raise
    except Expired:
        withdraw()
        raise LogUnavailable(f"cannot {what}: no commit within {wait_timeout:g} s") from None


def _settle_on_loop(settled: list[tuple[_AsyncWaiter, Any, str | None]]) -> None:
    for waiter, result, error in settled:
        if waiter.future.done():
            continue  # it gave up waiting (timeout, cancelled request): nobody is told
        if error is None:
            waiter.future.set_result(result)
        else:
            waiter.future.set_exception(LogUnavailable(error))


class GroupCommitter:
    """Commits submitted items in batches on one thread. `commit(items)` returns one result per item, in order,
    or raises: LogUnavailable (its message goes to every caller of the batch) or anything else (a bug: logged
    with its traceback, and every caller of the batch gets LogUnavailable)."""

    def __init__(self, commit: Callable[[list[Any]], Sequence[Any]], *, wait_timeout: float,
                 what: str = "commit", max_batch: int = MAX_BATCH,
                 turn: Callable[[], AbstractContextManager[Any]] = nullcontext):
        self._commit = commit
        self._turn = turn
        self._wait_timeout = wait_timeout
        self._what = what
        self._max_batch = max_batch
        self._reset()
        # A forked worker inherits the queue and the lock but not the thread: start afresh there.
        in_forked_child(self, GroupCommitter._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Waiter] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, item: Any) -> Any:
        """Commit `item` with whatever else is queued; its result once committed. Raises LogUnavailable."""
        waiter = _Waiter(item)
        self._enqueue(waiter)
        if not waiter.done.wait(self._wait_timeout):
            self._withdraw(waiter)
            raise LogUnavailable(f"cannot {self._what}: no commit within {self._wait_timeout:g} s")
        if waiter.error is not None:
            raise LogUnavailable(waiter.error)
        return waiter.result

    async def submit_async(self, item: Any) -> Any:
        """`submit` for a caller on an event loop: the loop keeps serving while the batch commits."""
        loop = asyncio.get_running_loop()
        waiter = _AsyncWaiter(item, loop)
        self._enqueue(waiter)
        # A timer on the future itself rather than asyncio.wait_for, which wraps it in a second future and
        # callbacks: half of the waiting's cost per request (measured), and POST /consent pays it each time.
        timer = loop.call_later(self._wait_timeout, _expire, waiter.future)
        try:
            return await answer_of(waiter.future, lambda: self._withdraw(waiter), self._what, self._wait_timeout)
        finally:
            timer.cancel()

    def _enqueue(self, waiter: _Waiter | _AsyncWaiter) -> None:
        with self._cond:
            if self._closed:
                raise LogUnavailable("the consent log is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="consent-log-committer", daemon=True)
                self._thread.start()
            self._queue.append(waiter)
            self._cond.notify()

    def _withdraw(self, waiter: _Waiter | _AsyncWaiter) -> bool:
        """Take a waiter out of the queue if the committer has not taken it yet (then it is never written)."""
        with self._cond:
            try:
                self._queue.remove(waiter)
                return True
            except ValueError:
                return False  # in a commit still running: it may land, unacknowledged (a 503 only asks again)

    def close(self) -> None:
        """Commit what is queued, then stop the thread; later submits raise LogUnavailable."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
            # The write turn first, the batch after: whatever queues while another writer holds the database
            # joins this batch instead of waiting for the next turn.
            batch: list[_Waiter | _AsyncWaiter] | None = None
            try:
                with self._turn():
                    batch = self._take()
                    if batch:
                        self._commit_batch(batch)  # settles every caller of the batch; never raises
            except Exception as error:  # noqa: BLE001 - taking (or giving back) the turn failed
                if batch is not None:  # the batch was settled already; only giving the turn back failed
                    log.exception("%s: giving back the write turn failed", self._what)
                    continue
                if isinstance(error, LogUnavailable):
                    message = str(error)
                else:
                    log.exception("cannot %s: taking the write turn failed", self._what)
                    message = f"cannot {self._what}: {one_line(error)}"
                refused = self._take()  # nothing was tried: the callers waiting now are told why
                _settle(refused, [None] * len(refused), message)

    def _take(self) -> list[_Waiter | _AsyncWaiter]:
        with self._cond:
            return [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]

    def _commit_batch(self, batch: list[_Waiter | _AsyncWaiter]) -> None:
        try:
            results = list(self._commit([waiter.item for waiter in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except LogUnavailable as error:
            _settle(batch, [None] * len(batch), str(error))
        except Exception as error:  # noqa: BLE001 - a bug must not leave callers waiting, nor pass as a commit
            log.exception("consent log: committing a batch of %d failed", len(batch))
            _settle(batch, [None] * len(batch), f"cannot {self._what}: {type(error).__name__}: {one_line(error)}")
        else:
            _settle(batch, results, None)


def _settle(batch: list[_Waiter | _AsyncWaiter], results: Sequence[Any], error: str | None) -> None:
    """Tell every caller of a batch; each event loop is woken once, however many of its requests were in it."""
    per_loop: dict[asyncio.AbstractEventLoop, list[tuple[_AsyncWaiter, Any, str | None]]] = {}
    for waiter, result in zip(batch, results):
        if isinstance(waiter, _AsyncWaiter):
            per_loop.setdefault(waiter.loop, []).append((waiter, result, error))
        else:
            waiter.settle(result, error)
    for loop, settled in per_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_on_loop, settled)
        except RuntimeError:
            pass  # that loop is closed: its requests are gone

"""Group commit: several callers' writes in one transaction, each caller waiting for its batch's commit.

Why: a durable commit costs a flush to disk (SQLite's WAL fsynced with ``synchronous=FULL``;
PostgreSQL's WAL flush with ``synchronous_commit`` on). One commit per decision would cap
POST /consent at the disk's flush rate; one commit per *batch* shares that cost.

Callers hand their item to `GroupCommitter.submit` and block. One committer thread takes
everything queued so far, commits it with one call of the `commit` function, then wakes
each caller of that batch with its result, or every caller of the batch with the batch's
error. So `submit` returns only after its item was committed, and never acknowledges one
that was not. No delay is added to gather a batch: while one commit is in flight the next
batch queues up by itself, so a lone caller pays one commit and a crowd shares them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from gateway.store.errors import LogUnavailable, one_line

log = logging.getLogger("gateway.store")

MAX_BATCH = 256  # bounds one transaction's size (and a batch's time) when a crowd queues behind a slow commit


SWITCH_INTERVAL = 0.001  # seconds


def _prompt_gil_handoff() -> None:
    """Let the committer get the GIL back within 1 ms instead of Python's default 5 ms.

    Every database call of a batch lets go of the GIL (SQLite: each statement, fetch, flush; ~14 per
    batch) and, while the event loop serves requests, getting it back waits for the interval: with
    5 ms a batch took ~35 ms under load and POST /consent waited for that. Measured with a thread
    busy in Python beside 32 writers on SQLite: 400 decisions/s at 5 ms, 1,100 at 1 ms. Process-wide,
    so only ever lowered; switching threads every millisecond costs the event loop very little.
    """
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)


class _Waiter:
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item: Any):
        self.item = item
        self.done = threading.Event()
        self.result: Any = None
        self.error: str | None = None


class GroupCommitter:
    """Commits submitted items in batches on one thread. `commit(items)` returns one result per item, in order,
    or raises: LogUnavailable (its message goes to every caller of the batch) or anything else (a bug: logged
    with its traceback, and every caller of the batch gets LogUnavailable)."""

    def __init__(self, commit: Callable[[list[Any]], Sequence[Any]], *, wait_timeout: float,
                 what: str = "commit", max_batch: int = MAX_BATCH):
        self._commit = commit
        self._wait_timeout = wait_timeout
        self._what = what
        self._max_batch = max_batch
        self._reset()
        # A forked worker inherits the queue and the lock but not the thread: start afresh there.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (lambda me: me and me._reset())(ref()))

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Waiter] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, item: Any) -> Any:
        """Commit `item` with whatever else is queued; its result once committed. Raises LogUnavailable."""
        waiter = _Waiter(item)
        with self._cond:
            if self._closed:
                raise LogUnavailable("the consent log is closed")
            if self._thread is None:
                _prompt_gil_handoff()
                self._thread = threading.Thread(target=self._run, name="consent-log-committer", daemon=True)
                self._thread.start()
            self._queue.append(waiter)
            self._cond.notify()
        if not waiter.done.wait(self._wait_timeout):
            with self._cond:
                try:
                    self._queue.remove(waiter)  # not taken yet: it will never be written
                except ValueError:
                    pass  # in a commit still running: it may land, unacknowledged (a 503 only asks again)
            raise LogUnavailable(f"cannot {self._what}: no commit within {self._wait_timeout:g} s")
        if waiter.error is not None:
            raise LogUnavailable(waiter.error)
        return waiter.result

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
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Waiter]) -> None:
        try:
            results = list(self._commit([waiter.item for waiter in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except LogUnavailable as error:
            self._fail(batch, str(error))
        except Exception as error:  # noqa: BLE001 - a bug must not leave callers waiting, nor pass as a commit
            log.exception("consent log: committing a batch of %d failed", len(batch))
            self._fail(batch, f"cannot {self._what}: {type(error).__name__}: {one_line(error)}")
        else:
            for waiter, result in zip(batch, results):
                waiter.result = result
                waiter.done.set()

    @staticmethod
    def _fail(batch: list[_Waiter], message: str) -> None:
        for waiter in batch:
            waiter.error = message
            waiter.done.set()

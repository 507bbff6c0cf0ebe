"""Group commit for callers on an event loop, with the batch written from that loop: what its committers share.

Callers `await submit(item)`; items that queue while a batch is in flight become the next batch, and each caller
is answered once its batch committed (or failed: every caller of the batch gets LogUnavailable). What a batch
does is the subclass's: loop_commit.py (SQLite: the loop writes, a thread commits) and pg_loop_commit.py
(PostgreSQL: the loop writes and commits through an asyncio connection). Why the batch runs from the loop and
not on a committer thread: that thread took the GIL each time the loop let go of it (a socket send, a flock,
the rate limiter's SQLite call) and the loop waited to get it back (loop_commit.py has the figures).

When a batch has committed, the next one starts a few turns of the event loop later (TURNS_BEFORE_NEXT_BATCH),
not at once: the requests the loop has already read from their sockets get there meanwhile and join it, so
under load a batch takes about every decision a worker has in hand, and each commit (a transaction, its fsync)
is shared by twice as many. Measured on 2 cores, 2 workers, 64 connections, 5 rounds interleaved with the same
code starting each batch at once (medians, better in every round): on PostgreSQL, batches of 28-37 decisions
instead of 14-19, PostgreSQL's CPU 41-43 us a request instead of 51-59, POST /consent at 0.85 x the write-off
server instead of 0.81 x; on SQLite 0.95 x instead of 0.86 x. The p99 latency stayed at 23-30 ms. With only 4
connections (PostgreSQL, 3 rounds) the batches held 2 decisions instead of 1: 1,910-1,940 requests/s instead of
1,680-1,710, the p99 at 4.4-4.7 ms against 4.3-5.5. A lone decision (nothing in flight) still starts its batch on
the next turn.

A committer serves one event loop at a time: a server runs one per worker process. Callers of another loop that
runs at the same time go through the `fallback` GroupCommitter (thread-safe); when the committer's loop has
closed (Starlette's TestClient runs one per request), the next loop takes over.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from gateway.forks import in_forked_child
from gateway.store.errors import LogUnavailable
from gateway.store.group_commit import MAX_BATCH, Expired, GroupCommitter, answer_of

log = logging.getLogger("gateway.store")

ELSEWHERE = object()  # a caller's outcome: "commit through the fallback instead"

# Why this many: a request read from its socket gets to submit() two or three turns later (the protocol hands it
# to a new task, which runs on the next turn and may await its body once more), and the responses of the batch
# just committed go out on the next turn. With 2 and 3 turns the batches stayed at about half the connections
# (or flipped between the two sizes); from 4 to 10 they held at about all of them. When the loop has nothing else
# to do, a turn takes microseconds.
TURNS_BEFORE_NEXT_BATCH = 6


class LoopBatcher:
    """The callers' side: queue, deadlines, answers. Subclasses implement `_run_batch()`, which eventually calls
    `_finish(batch, results)` or `_finish(batch, error=...)` on the loop, and `_problem(error)`."""

    def __init__(self, *, fallback: GroupCommitter, wait_timeout: float, what: str, max_batch: int = MAX_BATCH,
                 turns_before_next_batch: int = TURNS_BEFORE_NEXT_BATCH):
        self._fallback = fallback
        self._turns_before_next_batch = turns_before_next_batch
        self._wait_timeout = wait_timeout
        self._what = what
        self._max_batch = max_batch
        self._reset()
        # A forked worker inherits this state but not the parent's loop, thread or connection.
        in_forked_child(self, lambda committer: committer._reset())

    def _reset(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: deque[tuple[Any, asyncio.Future]] = deque()
        self._busy = False       # a batch is between being started and being answered
        self._scheduled = False  # _next is queued on the loop (or on its way there, _start_after)
        self._closed = False
        # Each caller's deadline, in the order they came (one wait for all, so in time order too), and the
        # one timer that expires them: a timer per request cost more than the rest of submit.
        self._deadlines: deque[tuple[float, asyncio.Future]] = deque()
        self._expiring: asyncio.TimerHandle | None = None

    async def submit(self, item: Any) -> Any:
        """The item's result once its batch committed; raises LogUnavailable."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop and not self._adopt(loop):
            # Another loop's while that one runs (it changes this state without locks), or while a batch of
            # it may still be in flight: through the fallback.
            return await self._fallback.submit_async(item)
        future = loop.create_future()
        entry = (item, future)
        self._pending.append(entry)
        if not self._busy and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._next)  # what else arrives in this turn of the loop joins the batch
        self._deadlines.append((loop.time() + self._wait_timeout, future))
        if self._expiring is None:
            self._expiring = loop.call_later(self._wait_timeout, self._expire, loop)
        outcome = await answer_of(future, lambda: self._withdraw(entry), self._what, self._wait_timeout)
        if outcome is ELSEWHERE:
            return await self._fallback.submit_async(item)
        return outcome

    async def warm_up(self) -> None:
        """Open now what the first batch would have to (a connection), so that its callers do not wait for it: at a
        worker's start. Callers that come meanwhile queue until it is done; a failure is only logged (the first
        batch tries again, and its callers hear of it)."""
        loop = asyncio.get_running_loop()
        if (loop is not self._loop and not self._adopt(loop)) or self._busy or self._closed:
            return
        self._busy = True
        try:
            await self._warm()
        except Exception as error:  # noqa: BLE001 - the first batch meets it again and answers its callers
            log.warning("could not get ready to %s at start: %s", self._what, self._problem(error))
        finally:
            self._busy = False
            self._next()

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Make `loop` the committer's if the last one closed (False: another loop has it). What that loop left
        queued (a batch start, callers' deadlines) never runs there; its callers are gone."""
        if self._closed or self._busy or (self._loop is not None and not self._loop.is_closed()):
            return False
        self._loop, self._scheduled, self._expiring = loop, False, None
        self._pending.clear()
        self._deadlines.clear()
        self._loop_changed()
        return True

    # -- hooks ------------------------------------------------------------------------------------------

    async def _warm(self) -> None:
        """What `warm_up` opens; nothing by default."""

    def _run_batch(self) -> None:
        """Start the next batch (`_take()` gives its callers); answer it with `_finish`. Called with _busy set."""
        raise NotImplementedError

    def _problem(self, error: Exception) -> str:
        """What the callers of a batch that failed with `error` are told."""
        raise NotImplementedError

    def _loop_changed(self) -> None:
        """A new event loop took over (the last one closed)."""

    # -- the loop's side ---------------------------------------------------------------------------------

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Tell each caller past its deadline that no commit answered it in time; wake again at the next one."""
        if loop is not self._loop:
            return  # a timer of a loop this committer has left
        self._expiring = None
        now, deadlines = loop.time(), self._deadlines
        while deadlines and (deadlines[0][1].done() or deadlines[0][0] <= now):
            _, future = deadlines.popleft()
            if not future.done():
                future.set_exception(Expired())
        if deadlines:
            self._expiring = loop.call_at(deadlines[0][0], self._expire, loop)

    def _forget_answered(self) -> None:
        """Drop the deadlines of callers already answered (batches finish about in arrival order)."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()

    def _withdraw(self, entry: tuple[Any, asyncio.Future]) -> None:
        try:
            self._pending.remove(entry)
        except ValueError:
            pass  # in a batch already: it may land, unacknowledged (a 503 only asks again)

    def _next(self) -> None:
        self._scheduled = False
        if self._busy or not self._pending:
            return
        if self._closed:  # shutting down: what is still queued is not written
            callers = list(self._pending)
            self._pending.clear()
            self._refuse(callers)
            return
        self._busy = True
        self._run_batch()

    def _take(self) -> list[tuple[Any, asyncio.Future]]:
        batch = []
        while self._pending and len(batch) < self._max_batch:
            entry = self._pending.popleft()
            if not entry[1].done():
                batch.append(entry)
        return batch

    def _finish(self, batch: list[tuple[Any, asyncio.Future]], results: Sequence[Any] | None = None,
                error: Exception | None = None) -> None:
        """Answer a batch's callers, then start the next batch if any queued."""
        if error is not None:
            problem = self._problem(error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(LogUnavailable(problem))
        else:
            for (_, future), result in zip(batch, results or ()):
                if not future.done():  # it gave up waiting (timeout, cancelled request): nobody is told
                    future.set_result(result)
        self._forget_answered()
        self._busy = False
        self._start_after(self._turns_before_next_batch)

    def _start_after(self, turns: int) -> None:
        """Start the next batch `turns` turns of the loop from now (callers that come meanwhile join it), or now
        when a full batch is waiting already."""
        if turns <= 0 or len(self._pending) >= self._max_batch or self._loop is None:
            self._next()
            return
        self._scheduled = True  # a submit meanwhile leaves the start to this
        self._loop.call_soon(self._start_after, turns - 1)

    def _refuse(self, callers: list[tuple[Any, asyncio.Future]]) -> None:
        for _, future in callers:
            if not future.done():
                future.set_exception(LogUnavailable(f"cannot {self._what}: the gateway is shutting down"))

    def _refuse_pending(self) -> None:
        """At close: callers still queued are told the log is closed, on their loop."""
        loop, pending = self._loop, list(self._pending)
        self._pending.clear()
        if loop is not None and pending:
            try:
                loop.call_soon_threadsafe(self._refuse, pending)
            except RuntimeError:
                pass  # that loop is closed: its callers are gone

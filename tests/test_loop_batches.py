"""How the loop's group commit forms its batches (gateway/store/loop_batches.py), with a stand-in committer that
commits on the next turn of the loop. What the log's throughput relies on: decisions whose requests are already
on their way when a batch commits share the next batch instead of each starting a small one, a full batch
waiting starts at once, and a lone decision is not held back."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.store.loop_batches import TURNS_BEFORE_NEXT_BATCH, LoopBatcher


class TurnCount:
    """How many turns the running loop has taken since entering: a task that counts one a turn."""

    def __init__(self) -> None:
        self.now = 0
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "TurnCount":
        async def count() -> None:
            while True:
                self.now += 1
                await asyncio.sleep(0)

        self._task = asyncio.create_task(count())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class CommitsNextTurn(LoopBatcher):
    """Records each batch's size (and, given a TurnCount, the turn each batch started and committed in) and commits
    it on the loop's next turn."""

    def __init__(self, turns: TurnCount | None = None, **options: Any):
        self.sizes: list[int] = []
        self.events: list[tuple[str, int]] = []
        self._turns = turns
        super().__init__(fallback=None, wait_timeout=5.0, what="commit", **options)

    def _run_batch(self) -> None:
        batch = self._take()
        self.sizes.append(len(batch))
        self._note("start")
        assert self._loop is not None
        self._loop.call_soon(self._commit, batch)

    def _commit(self, batch: list) -> None:
        self._note("commit")
        self._finish(batch, [None] * len(batch))

    def _note(self, event: str) -> None:
        if self._turns is not None:
            self.events.append((event, self._turns.now))

    def _problem(self, error: Exception) -> str:
        return str(error)


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def visitor(batcher: CommitsNextTurn, number: int, decisions: int) -> None:
    """One connection of a load: its next decision reaches submit() a few turns after the last was answered (a
    request read from its socket takes two or three), each connection a little later than the one before."""
    for _ in range(decisions):
        await turns(2 + number % 3)
        await batcher.submit(object())


def batch_sizes(connections: int, decisions: int, **options: Any) -> list[int]:
    async def load() -> list[int]:
        batcher = CommitsNextTurn(**options)
        await asyncio.gather(*(visitor(batcher, number, decisions) for number in range(connections)))
        return batcher.sizes

    return asyncio.run(load())


def test_decisions_on_their_way_when_a_batch_commits_share_the_next_batch() -> None:
    sizes = batch_sizes(12, 5)
    # The first batch starts from idle on the next turn, with the connections that came first; from then on each
    # batch takes every connection's next decision.
    assert sum(sizes) == 60 and sizes[1:5] == [12, 12, 12, 12]
    # Started at once after each commit, the same load commits in more, smaller batches: what the turns are for.
    started_at_once = batch_sizes(12, 5, turns_before_next_batch=0)
    assert sum(started_at_once) == 60 and max(started_at_once) < 12 and len(started_at_once) > 2 * len(sizes)


def test_a_full_batch_waiting_starts_at_once() -> None:
    sizes = batch_sizes(12, 3, max_batch=5)
    assert sum(sizes) == 36 and max(sizes) == 5 and set(sizes[1:-1]) == {5}

    async def crowd() -> list[tuple[str, int]]:
        async with TurnCount() as turns_taken:
            batcher = CommitsNextTurn(turns_taken, max_batch=5)
            await asyncio.gather(*(batcher.submit(object()) for _ in range(12)))  # 12 at once: 5, 5 and 2
        return batcher.events

    events = asyncio.run(crowd())
    assert [kind for kind, _ in events] == ["start", "commit"] * 3
    # 7 waiting when the first committed, then 2: the second batch starts in the commit's own turn, the third
    # (not full) the turns after.
    assert events[2][1] == events[1][1] and events[4][1] - events[3][1] == TURNS_BEFORE_NEXT_BATCH


def test_a_lone_decision_starts_its_batch_on_the_next_turn() -> None:
    async def lone() -> tuple[int, int, list[int]]:
        batcher = CommitsNextTurn()
        async with TurnCount() as turns_taken:
            started = turns_taken.now
            await batcher.submit(object())
            answered = turns_taken.now - started
            await turns(TURNS_BEFORE_NEXT_BATCH + 2)  # the turns after a commit: a decision then waits for them
            late = turns_taken.now
            await batcher.submit(object())
            return answered, turns_taken.now - late, batcher.sizes

    answered, answered_later, sizes = asyncio.run(lone())
    assert answered <= 3 and answered_later <= 3  # submit's turn, the batch's start, its commit
    assert sizes == [1, 1]

"""The delivery worker: a thread per server process that empties the outbox into the vendors' APIs.

It claims due rows (gateway/forwarding/outbox.py), sends each with its vendor's adapter, and records the
outcome: delivered; due again after an exponential backoff with jitter (or exactly when the vendor's
Retry-After says, which also holds back that vendor's other pending events: a rate limit is per
account, not per event); or dead after the configured number of attempts, the vendor's error kept for
`gateway events stats` and `gateway events retry-dead`. A vendor that refuses the event itself (a 4xx
other than 429) makes it dead at once: sending it again cannot help.

The thread sleeps until the next row is due, at most `poll` seconds (another instance may have queued
events), and wakes at once when this process queued one. Under a steady stream of events it does not
claim each one as it comes: after a batch that was not full it lets `gather` seconds of events collect,
so that one claim and one settle transaction serve many events. The outcomes of a batch are settled
together (one write turn), at the latest every `settle_every` seconds while a slow batch is still sending.
Claiming and settling per event had the worker taking the SQLite write lock twice per event, next to
POST /collect's own commits (measured: the durable /collect at 0.44-0.68 x the write-off one).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from gateway.forwarding import adapters as adapter_registry, credentials
from gateway.forwarding.event import Delivered, Failed, Retry
from gateway.forwarding.outbox import DEAD, DELIVERED, PENDING, Claimed, Outbox, Settlement
from gateway.forwarding.sender import Unreachable, close_kept, send
from gateway.forwarding.settings import DEFAULT_ATTEMPTS, Forwarding
from gateway.store.errors import LogUnavailable

log = logging.getLogger("tag_gateway")

MAX_RETRY_AFTER = 6 * 3600  # a vendor's Retry-After beyond this is read as this


class DeliveryWorker:
    def __init__(self, outbox: Outbox, forwarding_of: Callable[[str], Forwarding | None], *,
                 adapters: Callable[[str], Any] = None, timeout: float = 10.0, batch: int = 20,
                 base_delay: float = 5.0, max_delay: float = 3600.0, poll: float = 2.0, lease: float | None = None,
                 gather: float = 0.1, settle_every: float = 1.0):
        self.outbox = outbox
        self.forwarding_of = forwarding_of  # site (log name) -> its forwarding settings now
        self.adapters = adapters or adapter_registry.lookup
        self.timeout = timeout
        # Outlives one send; a row whose turn comes too late in a slow batch is given back (run_once), so
        # a lease runs out only when its process is gone.
        self.lease = lease if lease is not None else 2 * timeout + 5
        self.batch, self.base_delay, self.max_delay, self.poll = batch, base_delay, max_delay, poll
        self.gather, self.settle_every = gather, settle_every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="event-delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the send in flight, settle it, and stop (rows claimed but not sent wait for their lease)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.timeout + 5)

    def notify(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        try:
            self._deliver_until_stopped()
        finally:
            close_kept()  # this thread's connections to the vendors

    def _deliver_until_stopped(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except LogUnavailable as exc:
                log.warning("event delivery: the outbox is unavailable (%s); trying again", exc)
                worked = 0
            except Exception:  # noqa: BLE001 - a bug must not end delivery for the process's lifetime
                log.exception("event delivery failed; trying again")
                worked = 0
            if worked >= self.batch:
                continue  # a backlog: the next batch at once
            if worked:
                self._stop.wait(self.gather)  # a stream: let the next events gather into one claim
                continue
            self._wake.wait(self._sleep_time())
            self._wake.clear()

    def _sleep_time(self) -> float:
        try:
            due = self.outbox.next_due()
        except LogUnavailable:
            return self.poll
        if due is None:
            return self.poll
        return min(self.poll, max(0.0, (due - datetime.now(timezone.utc)).total_seconds()))

    def run_once(self) -> int:
        """Claim and deliver one batch; how many rows it claimed."""
        claimed = self.outbox.claim(self.batch, self.lease)
        held: dict[str, datetime] = {}  # vendor -> until when it asked us to wait, within this batch
        unsettled: list[Settlement] = []
        oldest = 0.0  # when the first unsettled outcome came (monotonic)
        try:
            for row in claimed:
                if self._stop.is_set() and row is not claimed[0]:
                    break  # the rest wait for their lease to run out
                if row.event.vendor in held:
                    self.outbox.release(row, held[row.event.vendor])
                    continue
                now = datetime.now(timezone.utc)
                if now + timedelta(seconds=self.timeout + 1) > row.lease_until:
                    # Slow answers used up the batch's lease: a send now could outlast it, and another
                    # worker could claim and send the row as well. Give it back, due at once, uncharged.
                    self.outbox.release(row, now)
                    continue
                settlement, until = self.attempt(row)
                if not unsettled:
                    oldest = time.monotonic()
                unsettled.append(settlement)
                if until is not None or time.monotonic() - oldest >= self.settle_every:
                    self._settle(unsettled)
                if until is not None:
                    self.outbox.hold_vendor(row.event.vendor, until)  # a rate limit holds the account, not one event
                    held[row.event.vendor] = until
        finally:
            self._settle(unsettled)  # a send that raised, or a stop: what was sent is still recorded
        return len(claimed)

    def _settle(self, unsettled: list[Settlement]) -> None:
        if not unsettled:
            return
        for settlement, settled in zip(unsettled, self.outbox.settle_many(unsettled)):
            if not settled:
                log.info("event %s: its claim ran out before the answer came; the row was not changed",
                         settlement.claimed.id)
        unsettled.clear()

    def attempt(self, row: Claimed) -> tuple[Settlement, datetime | None]:
        """Send one claimed row: what to record for it, and until when the vendor asked to be left alone."""
        event = row.event
        forwarding = self.forwarding_of(row.site) or Forwarding()
        outcome = self._attempt(event, forwarding)
        if isinstance(outcome, Delivered):
            state, error, at = DELIVERED, None, None
        elif isinstance(outcome, Failed) or row.attempts >= (forwarding.attempts or DEFAULT_ATTEMPTS):
            state, error, at = DEAD, outcome.error, None
            log.warning("event %s for %s is dead after %d attempt(s): %s", event.event_id[:64], event.vendor,
                        row.attempts, outcome.error[:300])
        else:
            state, error = PENDING, outcome.error
            wait = self._delay(row.attempts, outcome.after)
            at = datetime.now(timezone.utc) + timedelta(seconds=wait)
        settlement = Settlement(row, state, error, at)
        return settlement, (at if state == PENDING and outcome.after is not None else None)

    def _attempt(self, event, forwarding: Forwarding):
        adapter = self.adapters(event.vendor)
        if adapter is None:
            return Retry(f"no adapter for {event.vendor} in this gateway")
        credential = credentials.lookup(event.vendor, event.account_id)
        if credential is None:
            return Retry(credentials.missing_text(event.vendor, event.account_id))
        try:
            request = adapter.build_request(event, forwarding.transforms_for(event.vendor), credential,
                                            adapter_registry.base_url(event.vendor))
        except Exception as exc:  # noqa: BLE001 - one malformed event must not stop the others
            log.exception("building the %s request for event %s failed", event.vendor, event.event_id[:64])
            return Failed(f"the request could not be built: {type(exc).__name__}: {exc}"[:500])
        answer = send(request, self.timeout)
        if isinstance(answer, Unreachable):
            return Retry(answer.error)
        return adapter.read_answer(answer)

    def _delay(self, attempts: int, after: float | None) -> float:
        if after is not None:
            return min(max(after, 0.0), MAX_RETRY_AFTER)
        # Exponential, with jitter so that events failed together do not all come back together.
        return min(self.max_delay, self.base_delay * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)


__all__ = ["DeliveryWorker"]

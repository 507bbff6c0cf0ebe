"""The benchmark's "outbox write turned off": POST /collect's baseline, never used in production.

`TAG_GATEWAY_OUTBOX=discard` is read here and nowhere else (bench/discard_hook/sitecustomize.py calls
`install()` in every process of the write-off server). Only the durable write of an accepted event is
skipped: `Outbox.put` answers "queued" for an `Accept` at once, as the real one does after its group
commit, so the request is answered 202 exactly as before. Nor is the delivery worker woken for an event
that was never stored: each wake runs a claim transaction, work that exists only because an event was
written (left in, it made the baseline slower than the durable server's, ratios above 1). Everything else
(body checks, consent decision, the engine the outbox opens, the delivery worker's own polling,
dropped-event counters) is the real code.
The harness checks after every load that this server's outbox gained no row; if the gateway starts
writing events some other way, that check fails.
"""

from __future__ import annotations

import os

ENV_VAR = "TAG_GATEWAY_OUTBOX"


def install() -> bool:
    """Patch Outbox.put / put_sync when TAG_GATEWAY_OUTBOX=discard; True when it did."""
    if os.environ.get(ENV_VAR) != "discard":
        return False
    from gateway.forwarding.delivery import DeliveryWorker
    from gateway.forwarding.outbox import Accept, Outbox

    real_put, real_put_sync = Outbox.put, Outbox.put_sync

    async def put(self, item):
        return "queued" if isinstance(item, Accept) else await real_put(self, item)

    def put_sync(self, item):
        return "queued" if isinstance(item, Accept) else real_put_sync(self, item)

    Outbox.put, Outbox.put_sync = put, put_sync
    DeliveryWorker.notify = lambda self: None  # nothing was stored: nothing to deliver
    return True

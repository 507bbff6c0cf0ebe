"""The benchmark's "delivery paused": the /collect loads compare the outbox write alone, never used in production.

`TAG_GATEWAY_DELIVERY=paused` is read here and nowhere else (bench/discard_hook/sitecustomize.py calls
`install()` in every process of a server started with it). The delivery worker is not started, so the
server accepts and stores events and sends none of them during the load.

Why: the target compares POST /collect with its durable outbox write to the same endpoint without it.
A write-off server has nothing to deliver, while a durable one sends every event it stored to the vendor
stand-ins, which run on the same two cores (in the harness's own process): the comparison then charged
the durable side with the sending (and with the stand-ins' CPU), which every design pays, whether the
events wait in a table or in memory. With delivery paused on both sides, the figure is the write's cost.
What delivery costs is measured by itself (the delivery row), and a second /collect row keeps the
durable server's worker running during its loads, without a target, so that its effect stays in view.
"""

from __future__ import annotations

import os

ENV_VAR = "TAG_GATEWAY_DELIVERY"


def install() -> bool:
    """Make DeliveryWorker.start a no-op when TAG_GATEWAY_DELIVERY=paused; True when it did."""
    if os.environ.get(ENV_VAR) != "paused":
        return False
    from gateway.forwarding.delivery import DeliveryWorker

    DeliveryWorker.start = lambda self: None
    return True

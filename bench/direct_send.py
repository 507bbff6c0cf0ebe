"""The delivery baseline: the same vendor requests the delivery worker would send, sent straight in a loop.

    python -m bench.direct_send CONFIG_DIR EVENTS.json   (the forwarding env of bench/collect_bench.py set)

One thread, no outbox, no database: each event's request is built by its vendor's adapter with the
config's transforms and the credential and base URL from the environment, exactly as
gateway/forwarding/delivery.py does, and sent with gateway.forwarding.sender.send. It runs in its own
process, like the gateway's workers, so it does not share the harness's interpreter with the stand-ins.
Prints {"first": t, "last": t, "delivered": n, "problems": [...]} (monotonic seconds of the first and
last answer).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gateway.config import load_config
from gateway.forwarding import adapters, credentials
from gateway.forwarding.event import Delivered, ServerEvent
from gateway.forwarding.sender import Unreachable, send


def main(config_dir: str, events_path: str) -> int:
    forwarding = load_config(Path(config_dir)).forwarding
    events = [ServerEvent.from_json(e) for e in json.loads(Path(events_path).read_text())]
    delivered, problems, first, last = 0, [], None, None
    for event in events:
        adapter = adapters.lookup(event.vendor)
        outgoing = adapter.build_request(event, forwarding.transforms_for(event.vendor),
                                         credentials.lookup(event.vendor, event.account_id),
                                         adapters.base_url(event.vendor))
        answer = send(outgoing, 10.0)
        last = time.monotonic()
        first = first if first is not None else last
        outcome = answer if isinstance(answer, Unreachable) else adapter.read_answer(answer)
        if isinstance(outcome, Delivered):
            delivered += 1
        elif len(problems) < 5:
            problems.append(f"{event.vendor} {event.event_id}: {outcome}"[:300])
    print(json.dumps({"first": first, "last": last, "delivered": delivered, "problems": problems}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""Delivery throughput: events per second from a filled outbox to the vendor API stand-ins (issue 11).

The subject is one gateway (its worker processes' delivery threads, as they run in production) on SQLite:
N events are inserted into its outbox in one transaction (by the outbox's own insert), and its workers,
woken by their poll (at most 2 s), claim, send and settle them. Its rate is (N - 1) / (the last
`delivered_at` - the first): the time it spent delivering, not the time until its poll came round.

The baseline is the vendor stand-ins' capacity with no outbox: the same N requests (same adapters, same
transforms, credentials and base URL) sent one after the other by one thread in its own process
(bench/direct_send.py), its rate (N - 1) / (last answer - first answer). The ratio is the subject's rate
over the baseline's: what claiming, leasing and settling each event in the database costs, minus what
several delivery threads win back. Interleaved like the loads: both back to back, order flipped each round.

Checked each time: every event ended `delivered` (none dead, none pending) and the stand-ins received each
event exactly once (their request count and distinct-event count per vendor grew by exactly the events
sent to that vendor).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from bench import unique_events
from bench.collect_bench import body_template, collect_headers, consent_token
from bench.errors import BenchError
from bench.gateway_process import Gateway
from bench.net import request

ROOT = Path(__file__).resolve().parent.parent
TAGS = ("meta-purchase", "tiktok-purchase", "ga4-purchase")
WAIT = 180.0  # seconds the gateway may take for one round before the row is an ERROR


def _templates(gateway: Gateway, origin: str, consent_body: str, outbox) -> tuple[str, list]:
    """One event per server-side tag, through POST /collect, as the gateway stored them (then delivered)."""
    from sqlalchemy import select

    from gateway.forwarding.event import ServerEvent
    from gateway.store.schema import event_outbox

    token, run = consent_token(gateway, origin, consent_body), unique_events.new_run()
    for n, tag in enumerate(TAGS):
        body = body_template(tag).replace(unique_events.PLACEHOLDER, f"{run}-{n}")
        answer = request("POST", gateway.url + "/collect", collect_headers(origin, token), body.encode())
        if answer.status != 202:
            raise BenchError(f"POST /collect {tag} answered {answer.status}: {answer.body[:300]!r}")
    with outbox._engine.connect() as connection:
        rows = connection.execute(select(event_outbox.c.payload, event_outbox.c.site)
                                  .where(event_outbox.c.event_id.like(run + "-%"))).all()
    if len(rows) != len(TAGS):
        raise BenchError(f"{len(rows)} of the {len(TAGS)} template events are in the delivery gateway's outbox")
    return run, [(ServerEvent.from_json(row.payload), row.site) for row in rows]


def _states(outbox, run: str) -> tuple[Counter, list]:
    from sqlalchemy import select

    from gateway.store.schema import event_outbox

    with outbox._engine.connect() as connection:
        rows = connection.execute(select(event_outbox.c.state, event_outbox.c.delivered_at)
                                  .where(event_outbox.c.event_id.like(run + "-%"))).all()
    return Counter(r.state for r in rows), [r.delivered_at for r in rows if r.delivered_at is not None]


class _Exactly:
    """The stand-ins' counts per vendor before a round; `check` wants them grown by exactly `sent`."""

    def __init__(self, standins):
        self.standins = standins
        self.before = {v: (len(standins.requests(v)), standins.distinct_events(v)) for v in ("meta_pixel", "tiktok_pixel", "ga4")}

    def check(self, who: str, sent: Counter) -> None:
        for vendor, (requests, distinct) in self.before.items():
            got = (len(self.standins.requests(vendor)) - requests, self.standins.distinct_events(vendor) - distinct)
            if got != (sent[vendor], sent[vendor]):
                raise BenchError(f"{who}: {vendor} got {got[0]} requests for {got[1]} distinct events, "
                                 f"expected {sent[vendor]} of each (every event exactly once)")


def measure(gateway: Gateway, config_dir: Path, env: dict[str, str], standins, origin: str, consent_body: str,
            events: int, rounds: int, progress: Callable[[str], None], stack: ExitStack) -> dict:
    from gateway.forwarding.outbox import DELIVERED, Accept, Outbox
    from gateway.store import database

    engine = database.create(database.resolve_url(gateway.database_url))
    stack.callback(engine.dispose)
    outbox = Outbox(engine)
    stack.callback(outbox.close)
    first, templates = _templates(gateway, origin, consent_body, outbox)
    deadline = time.monotonic() + 30
    while _states(outbox, first)[0].get(DELIVERED, 0) < len(TAGS):  # the templates went out: delivery works
        if time.monotonic() > deadline:
            raise BenchError(f"the delivery gateway did not deliver its {len(TAGS)} first events in 30 s: "
                             f"{dict(_states(outbox, first)[0])}\n{gateway.output()[-1500:]}")
        time.sleep(0.1)

    def batch() -> tuple[str, list, Counter]:
        run = unique_events.new_run()
        made = [(replace(event, event_id=f"{run}-{n}"), site)
                for n, (event, site) in ((n, templates[n % len(templates)]) for n in range(events))]
        return run, made, Counter(event.vendor for event, _ in made)

    def through_gateway() -> float:
        run, made, sent = batch()
        expect = _Exactly(standins)
        # The outbox's own insert, all in one transaction: the rows are what POST /collect would store.
        outbox._commit([Accept(event, site) for event, site in made])
        deadline = time.monotonic() + WAIT
        while True:
            states, times = _states(outbox, run)
            if states.get(DELIVERED, 0) == events:
                break
            if states.get("dead") or time.monotonic() > deadline:
                raise BenchError(f"the gateway's delivery left {dict(states)} of {events} events")
            time.sleep(0.05)
        expect.check("gateway delivery", sent)
        return (events - 1) / (max(times) - min(times)).total_seconds()

    def directly() -> float:
        run, made, sent = batch()
        expect = _Exactly(standins)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=config_dir.parent) as file:
            json.dump([event.as_json() for event, _ in made], file)
        done = subprocess.run([sys.executable, "-m", "bench.direct_send", str(config_dir), file.name], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=WAIT)
        Path(file.name).unlink()
        if done.returncode != 0:
            raise BenchError(f"bench/direct_send.py failed: {done.stderr[-800:]}")
        answer = json.loads(done.stdout)
        if answer["delivered"] != events:
            raise BenchError(f"direct sending delivered {answer['delivered']} of {events}: {answer['problems']}")
        expect.check("direct sending", sent)
        return (events - 1) / (answer["last"] - answer["first"])

    runs: dict[str, list[float]] = {"subject": [], "baseline": []}
    for number in range(rounds):
        sides = [("subject", through_gateway), ("baseline", directly)]
        for role, side in sides if number % 2 == 0 else reversed(sides):
            progress(f"round {number + 1}/{rounds}: delivery of {events} events, {'gateway' if role == 'subject' else 'direct'}")
            runs[role].append(side())
    ratios = [s / b for s, b in zip(runs["subject"], runs["baseline"])]
    return {"ratio": statistics.median(ratios), "round_ratios": ratios, "events": events,
            "subject_events_per_s": statistics.median(runs["subject"]),
            "baseline_events_per_s": statistics.median(runs["baseline"]), "rounds": runs}

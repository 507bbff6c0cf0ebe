"""POST /collect with its durable outbox write against the same endpoint with the write off (issue 11).

Both servers run the example config with the purchase tags forwarded server-side (bench/configs.py), the
vendors' credentials, and the vendors' base URLs pointed at the local API stand-ins
(tests/vendor_api_standins.py) that the harness runs. The write-off server is the same gateway with
`TAG_GATEWAY_OUTBOX=discard` (bench/discard_outbox.py): only the outbox insert and its commit are skipped.

For the target, delivery is paused on both sides (bench/paused_delivery.py says why): the figure is the
write's cost. A second comparison runs a durable server whose delivery worker sends what it stored to
the stand-ins while the next requests come in, against the same write-off server, with no target.

Each request carries a new event id (bench/unique_events.py), its visitor's consent token from POST
/consent, and comes from one of many visitor addresses. After each load: every answer was 202 accepted
(counted by the wrk script), the durable server's outbox holds every event it accepted (and at most the
64 requests still in flight when wrk stopped more), none of them dead, and the write-off server's none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack

from bench import cpu, unique_events, wrk
from bench.errors import BenchError
from bench.gateway_process import Gateway
from bench.loads import Comparison, Side
from bench.net import request

META, TIKTOK, GA4 = "meta_pixel", "tiktok_pixel", "ga4"
TOKENS = {META: "bench-meta-token", TIKTOK: "bench-tiktok-token", GA4: "bench-ga4-secret"}
TAG = "meta-purchase"
VISITOR_EVERY = 10  # events per visitor address (POST /collect allows 120 a minute per address)
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
          "Safari/537.36")


def forwarding_env(base_url: str) -> dict[str, str]:
    """Credentials for the three vendors, and their API base URLs at the stand-ins (honoured only with the
    test switch, which is why it is set here)."""
    env = {"TAG_GATEWAY_FORWARD_TEST_ENDPOINTS": "1"}
    for vendor, token in TOKENS.items():
        env[f"TAG_GATEWAY_FORWARD_{vendor.upper()}"] = token
        env[f"TAG_GATEWAY_FORWARD_BASE_URL_{vendor.upper()}"] = base_url
    return env


def body_template(tag: str = TAG) -> str:
    """A purchase as the container sends it (see gateway/forwarding/body.py), EVENT_ID to be filled in."""
    return json.dumps({
        "tag": tag, "event_id": unique_events.PLACEHOLDER,
        "page": "https://shop.example/thank-you.html?order=1042", "referrer": "https://shop.example/cart.html",
        "params": {"value": 59.9, "currency": "EUR", "items": [{"item_id": "SKU-1", "price": 29.95, "quantity": 2}]},
        "user": {"email": "visitor@example.com"},
        "cookies": {"_fbp": "fb.1.1700000000000.123456789", "_ttp": "ttp-abc", "_ga": "GA1.1.987654321.1700000000"}})


def consent_token(server: Gateway, origin: str, consent_body: str) -> str:
    answer = request("POST", server.url + "/consent", {"Origin": origin, "Content-Type": "application/json"},
                     consent_body.encode())
    if answer.status != 200:
        raise BenchError(f"POST /consent answered {answer.status}: {answer.body[:300]!r}")
    return json.loads(answer.body)["token"]


def collect_headers(origin: str, token: str) -> dict[str, str]:
    return {"Origin": origin, "Content-Type": "application/json", "User-Agent": CHROME,
            "X-Tag-Gateway-Consent": token}


def outbox_counter(url: str, stack: ExitStack) -> Callable[[str, str | None], int]:
    """count(run, state): the outbox rows whose event id starts with `run` (in `state`, if given), read-only."""
    from sqlalchemy import func, select

    from gateway.store import database
    from gateway.store.schema import event_outbox

    engine = database.create(database.resolve_url(url))
    stack.callback(engine.dispose)

    def count(run: str, state: str | None = None) -> int:
        query = select(func.count()).select_from(event_outbox).where(event_outbox.c.event_id.like(run + "-%"))
        if state is not None:
            query = query.where(event_outbox.c.state == state)
        with engine.connect() as connection:
            return connection.execute(query).scalar_one()
    return count


def check_answers(name: str, load: wrk.Load) -> int:
    """The number of events accepted; BenchError unless every counted answer was 202."""
    if load.accepted is None:
        raise BenchError(f"{name}: the wrk script did not report its counts (bench/unique_events.py)")
    if load.accepted != load.requests:
        raise BenchError(f"{name}: {load.requests - load.accepted} of {load.requests} answers were not 202 accepted "
                         "(a duplicate event id answers 200, a refused one 4xx)")
    return load.accepted


def check_stored(name: str, accepted: int, stored: Callable[[], int], dead: Callable[[], int]) -> None:
    """Every accepted event is committed before its 202, so the count can only be higher than `accepted`:
    by the requests wrk sent but stopped waiting for (at most one per connection). Reread a while before
    calling a shortfall a loss (a 202 still being read when wrk stopped)."""
    found = stored()
    for _ in range(50):
        if found >= accepted:
            break
        time.sleep(0.1)
        found = stored()
    if found < accepted:
        raise BenchError(f"{name}: {accepted} events accepted (202), only {found} in the outbox 5 s later")
    if found > accepted + wrk.CONNECTIONS:
        raise BenchError(f"{name}: {found} events in the outbox for {accepted} accepted: more than the "
                         f"{wrk.CONNECTIONS} requests that can have been in flight when wrk stopped")
    if dead():
        raise BenchError(f"{name}: {dead()} of the load's events are dead: the stand-ins refused them")


def collect_sides(name: str, write: Gateway, off: Gateway, origin: str, consent_body: str,
                  stack: ExitStack, key: str | None = None, database: cpu.Meter | None = None) -> Comparison:
    """`key`: the comparison's report key (default collect.<name>); `database`: PostgreSQL's CPU meter, if any."""
    tokens = {server: consent_token(server, origin, consent_body) for server in (write, off)}
    counters = {server: outbox_counter(server.database_url, stack) for server in (write, off)}
    template = body_template()

    def script_for(server: Gateway) -> Callable[[object], str]:
        return lambda run: unique_events.script(str(run), collect_headers(origin, tokens[server]), template,
                                                visitor_every=VISITOR_EVERY)

    def all_stored(load: wrk.Load, run: object) -> None:
        label = f"POST /collect {name}, durable"
        check_stored(label, check_answers(label, load), lambda: counters[write](str(run)),
                     lambda: counters[write](str(run), "dead"))

    def none_stored(load: wrk.Load, run: object) -> None:
        check_answers(f"POST /collect {name}, write off", load)
        stored = counters[off](str(run))
        if stored:
            raise BenchError(f"POST /collect {name}: the write-off server stored {stored} events: "
                             "bench/discard_outbox.py no longer catches the outbox's write (did Outbox.put change?)")

    # Smoke test before any load: one event each; the durable server stores it, the other does not.
    for server, expected in ((write, 1), (off, 0)):
        run = unique_events.new_run()
        body = template.replace(unique_events.PLACEHOLDER, run + "-0")
        answer = request("POST", server.url + "/collect", collect_headers(origin, tokens[server]), body.encode())
        if answer.status != 202 or b'"accepted":true' not in answer.body.replace(b" ", b""):
            raise BenchError(f"POST /collect ({name}) answered {answer.status}: {answer.body[:300]!r}")
        if counters[server](run) != expected:
            raise BenchError(f"POST /collect ({name}): {counters[server](run)} rows for one event, expected {expected}")

    return Comparison(
        key or f"collect.{name}",
        Side(f"POST /collect {name}, durable outbox write", write.url + "/collect", "POST",
             before=unique_events.new_run, after=all_stored, script=script_for(write),
             meters=cpu.post_meters(write, database)),
        Side(f"POST /collect {name}, outbox write off", off.url + "/collect", "POST",
             before=unique_events.new_run, after=none_stored, script=script_for(off),
             meters=cpu.post_meters(off, database)))

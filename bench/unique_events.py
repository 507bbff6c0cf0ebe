"""A wrk script that POSTs a new event id with every request, and counts the answers by status.

POST /collect stores an event once per (site, vendor, event_id): a fixed body would be stored by the first
request and answered "duplicate" (200, nothing written) by every other one, so a load with one body would
measure no write at all. Here each request's event_id is `<run>-<thread>-<n>`: `run` is new for every load
(so loads and rounds never collide), `thread` tells wrk's threads apart, `n` counts that thread's requests.
The body is the template with its `EVENT_ID` placeholder replaced.

wrk's own summary counts any 2xx as success; a duplicate (200) or a drop (202 {"accepted": false} is
caught by the outbox count) would pass. So the script also counts the answers itself: `accepted` (202) and
`other`, printed by done() on a line bench/wrk.py's parse reads (Load.accepted).

POST /collect also limits each client address (120 events a minute): a real store's events come from many
visitors, so with `visitor_every` the script sends them from a new address (X-Forwarded-For, believed from a
trusted proxy: loopback by default) every that many requests, `10.<thread>.x.y`.
"""

from __future__ import annotations

import secrets

from bench.wrk import lua_string

PLACEHOLDER = "EVENT_ID"


def new_run() -> str:
    """A prefix no earlier load used: every id of a load starts with it (and a check can find them)."""
    return "bench" + secrets.token_hex(5)


def script(run: str, headers: dict[str, str], template: str, method: str = "POST", visitor_every: int = 0) -> str:
    if template.count(PLACEHOLDER) != 1:
        raise ValueError(f"the body template must hold {PLACEHOLDER} exactly once")
    head, tail = template.split(PLACEHOLDER)
    lines = [f"wrk.method = {lua_string(method)}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    lines += [
        f"local head, tail, run = {lua_string(head)}, {lua_string(tail)}, {lua_string(run)}",
        # setup() runs in the main Lua state; each thread has its own state, where thread:set puts globals.
        "local threads, created = {}, 0",
        "function setup(thread)",
        "  created = created + 1",
        "  thread:set('thread_number', created)",
        "  table.insert(threads, thread)",
        "end",
        "sent, accepted, other = 0, 0, 0",
        "function request()",
        "  sent = sent + 1",
        *([f"  local visitor = math.floor(sent / {int(visitor_every)})",
           "  wrk.headers['X-Forwarded-For'] = string.format('10.%d.%d.%d', thread_number % 256,"
           " math.floor(visitor / 256) % 256, visitor % 256)"] if visitor_every else []),
        "  return wrk.format(nil, nil, nil, head .. run .. '-' .. thread_number .. '-' .. sent .. tail)",
        "end",
        "function response(status, headers, body)",
        "  if status == 202 then accepted = accepted + 1 else other = other + 1 end",
        "end",
        "function done(summary, latency, requests)",
        "  local a, o = 0, 0",
        "  for _, thread in ipairs(threads) do a = a + thread:get('accepted'); o = o + thread:get('other') end",
        "  io.write(string.format('tag-gateway-bench: accepted %d other %d\\n', a, o))",
        "end",
    ]
    return "\n".join(lines) + "\n"


"""Delivery from the outbox to a vendor API stand-in on 127.0.0.1: down then up, Retry-After, dead letters,
two instances on one PostgreSQL, and a SIGKILL of `gateway serve` in the middle of a delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.forwarding.delivery import DeliveryWorker
from gateway.forwarding.outbox import Accept, Outbox
from gateway.forwarding.settings import Forwarding
from gateway.store import ConsentLog
from gateway.store.schema import event_outbox

from forwarding_fakes import VendorStandIn, adapters
from test_outbox import event
from waiting import wait_for

REPO = Path(__file__).resolve().parent.parent


def states(engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        return {r.event_id: (r.state, r.attempts, r.last_error) for r in
                connection.execute(select(event_outbox.c.event_id, event_outbox.c.state, event_outbox.c.attempts,
                                          event_outbox.c.last_error))}


@pytest.fixture(autouse=True)
def credential(monkeypatch):
    monkeypatch.setenv("TAG_GATEWAY_FORWARD_META_PIXEL", "meta-token")


@pytest.fixture
def log(tmp_path):
    with ConsentLog.open(f"sqlite:///{tmp_path / 'consents.sqlite3'}") as opened:
        yield opened


def worker_for(box, url, attempts=50, **options):
    settings = {"base_delay": 0.05, "max_delay": 0.2, "poll": 0.05, "timeout": 2.0, **options}
    return DeliveryWorker(box, lambda site: Forwarding(attempts=attempts), adapters=adapters(url), **settings)


def test_vendor_down_then_up_every_event_delivered_exactly_once(log) -> None:
    vendor = VendorStandIn()
    vendor.down()
    box = Outbox(log.engine)
    ids = [f"e-{n}" for n in range(25)]
    for n in range(25):
        box.put_sync(Accept(event(n), "default"))
    worker = worker_for(box, vendor.url)
    worker.start()
    try:
        assert wait_for(lambda: all(s[1] >= 2 for s in states(log.engine).values()))  # failed while down
        assert {s[0] for s in states(log.engine).values()} <= {"pending", "sending"}
        vendor.up()
        assert wait_for(lambda: {s[0] for s in states(log.engine).values()} == {"delivered"})
    finally:
        worker.stop()
        vendor.down()
        box.close()
    assert sorted(vendor.event_ids()) == sorted(ids)  # each once
    request = vendor.received[0]
    assert request["headers"]["Authorization"] == "Bearer meta-token" and request["body"]["event_name"] == "Purchase"


def test_retry_after_is_respected_for_the_vendors_other_events_too(log) -> None:
    vendor = VendorStandIn()
    vendor.answers = [(429, {"Retry-After": "1"}, b"rate limited")]
    box = Outbox(log.engine)
    for n in range(3):
        box.put_sync(Accept(event(n), "default"))
    worker = worker_for(box, vendor.url)
    worker.start()
    try:
        assert wait_for(lambda: len(vendor.received) == 4)
        assert wait_for(lambda: {s[0] for s in states(log.engine).values()} == {"delivered"})
    finally:
        worker.stop()
        vendor.down()
        box.close()
    first, *after = [r["at"] for r in vendor.received]
    assert min(after) - first >= 0.95  # nothing went to the vendor before its Retry-After
    assert sorted(vendor.event_ids()[1:]) == ["e-0", "e-1", "e-2"]
    # The event that got the 429 had two attempts; the ones held back were not charged one.
    assert sorted(s[1] for s in states(log.engine).values()) == [1, 1, 2]


def test_dead_after_the_configured_attempts_with_the_vendors_error(log) -> None:
    vendor = VendorStandIn()
    vendor.answers = [(503, {}, b"unavailable, try later")] * 10
    box = Outbox(log.engine)
    box.put_sync(Accept(event(1), "default"))
    worker = worker_for(box, vendor.url, attempts=3)
    worker.start()
    try:
        assert wait_for(lambda: states(log.engine)["e-1"][0] == "dead")
    finally:
        worker.stop()
        vendor.down()
        box.close()
    assert states(log.engine)["e-1"] == ("dead", 3, "503 unavailable, try later")
    assert len(vendor.received) == 3


def test_a_refused_event_is_dead_at_once(log) -> None:
    vendor = VendorStandIn()
    vendor.answers = [(400, {}, b'{"error": "invalid pixel"}')]
    box = Outbox(log.engine)
    box.put_sync(Accept(event(1), "default"))
    worker = worker_for(box, vendor.url)
    try:
        worker.run_once()
    finally:
        vendor.down()
        box.close()
    assert states(log.engine)["e-1"] == ("dead", 1, '400 {"error": "invalid pixel"}')


def test_a_batch_is_settled_in_one_write_and_a_slow_one_as_it_goes(log) -> None:
    """The worker takes the database's write lock once for a batch's outcomes, not once per event (requests
    wait for the same lock); with settle_every 0 it records each outcome as soon as it has it."""
    vendor = VendorStandIn()
    vendor.answers = [(200, {}, b"{}")] * 9 + [(400, {}, b"bad event")]
    box = Outbox(log.engine)
    writes: list[int] = []
    real = box.settle_many
    box.settle_many = lambda settlements: writes.append(len(settlements)) or real(settlements)
    try:
        for n in range(12):
            box.put_sync(Accept(event(n), "default"))
        assert worker_for(box, vendor.url, batch=20).run_once() == 12
        assert writes == [12]
        found = states(log.engine)
        assert sorted(s[0] for s in found.values()) == ["dead"] + ["delivered"] * 11
        writes.clear()
        for n in range(12, 15):
            box.put_sync(Accept(event(n), "default"))
        assert worker_for(box, vendor.url, batch=20, settle_every=0).run_once() == 3
        assert writes == [1, 1, 1]
    finally:
        vendor.down()
        box.close()
    assert sorted(vendor.event_ids()) == sorted(f"e-{n}" for n in range(15))  # each sent once


def test_a_stream_of_events_is_claimed_in_groups_not_one_by_one(log) -> None:
    vendor = VendorStandIn()
    box = Outbox(log.engine)
    claims: list[int] = []
    real = box.claim
    box.claim = lambda limit, lease, now=None: (lambda got: claims.append(len(got)) or got)(real(limit, lease, now))
    worker = worker_for(box, vendor.url, gather=0.3)
    worker.start()
    try:
        for n in range(30):  # one event every 20 ms, each waking the worker as POST /collect does
            box.put_sync(Accept(event(n), "default"))
            worker.notify()
            time.sleep(0.02)
        assert wait_for(lambda: {s[0] for s in states(log.engine).values()} == {"delivered"})
    finally:
        worker.stop()
        vendor.down()
        box.close()
    taken = [n for n in claims if n]
    assert sum(taken) == 30 and len(taken) <= 6, taken  # 0.6 s of events in groups gathered over 0.3 s
    assert sorted(vendor.event_ids()) == sorted(f"e-{n}" for n in range(30))


def test_two_instances_on_one_postgresql_deliver_each_event_once(postgres_url) -> None:
    vendor = VendorStandIn()
    with ConsentLog.open(postgres_url) as one, ConsentLog.open(postgres_url) as two:
        boxes = [Outbox(one.engine), Outbox(two.engine)]
        for n in range(200):
            boxes[n % 2].put_sync(Accept(event(n), "default"))
        workers = [worker_for(box, vendor.url, batch=5) for box in boxes]
        for worker in workers:
            worker.start()
        try:
            assert wait_for(lambda: {s[0] for s in states(one.engine).values()} == {"delivered"}, timeout=60)
        finally:
            for worker in workers:
                worker.stop()
            for box in boxes:
                box.close()
            vendor.down()
    delivered = vendor.event_ids()
    assert len(delivered) == 200 and len(set(delivered)) == 200


# -- SIGKILL of the production server during delivery ------------------------------------------------------

LAUNCHER = """
import sys
sys.path.insert(0, {tests!r})
import forwarding_fakes
import gateway.forwarding.adapters as registry
registry.lookup = forwarding_fakes.adapters({url!r})  # forked workers inherit it
from gateway.cli import main
sys.exit(main(sys.argv[1:]))
"""


def serve(tmp_path, port, vendor_url, database_url, workers=1):
    from forwarding_fakes import server_side_config

    config = tmp_path / "config"
    if not config.exists():
        server_side_config(config)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "TAG_GATEWAY_SECRET": "s" * 8 + os.urandom(16).hex(), "DATABASE_URL": database_url,
           "TAG_GATEWAY_FORWARD_META_PIXEL": "meta-token", "TAG_GATEWAY_FORWARD_TIMEOUT": "1"}
    script = tmp_path / "launch.py"
    script.write_text(LAUNCHER.format(tests=str(REPO / "tests"), url=vendor_url))
    out = (tmp_path / f"serve-{port}.log").open("ab")
    proc = subprocess.Popen([sys.executable, str(script), "serve", "--config", str(config), "--port", str(port),
                             "--workers", str(workers), "--no-watch", "--no-access-log"], cwd=tmp_path, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    import http.client

    def healthy():
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
    assert wait_for(healthy, timeout=30), (tmp_path / f"serve-{port}.log").read_text()
    return proc


def post_event(port, n):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = json.dumps({"tag": "meta-purchase", "event_id": f"k-{n}", "params": {"value": n}})
    # A California visitor (the trusted loopback proxy's headers): allowed without a choice.
    connection.request("POST", "/collect", body, {"Content-Type": "application/json", "Origin": "http://127.0.0.1:5173",
                                                  "CF-IPCountry": "US", "CF-Region-Code": "CA"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_sigkill_during_delivery_loses_no_accepted_event(tmp_path) -> None:
    from served_gateway import free_port

    vendor = VendorStandIn()
    vendor.hold.clear()  # the vendor keeps the first request waiting: the kill comes mid-delivery
    database_url = f"sqlite:///{tmp_path / 'consents.sqlite3'}"
    port = free_port()
    proc = serve(tmp_path, port, vendor.url, database_url)
    try:
        accepted = [n for n in range(10) if post_event(port, n) == (202, {"accepted": True, "event_id": f"k-{n}"})]
        assert len(accepted) == 10
        with ConsentLog.open(database_url) as log:  # the worker has claimed and is sending
            assert wait_for(lambda: "sending" in {s[0] for s in states(log.engine).values()})
        assert vendor.received == []  # the vendor holds the first request: nothing answered yet
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        vendor.hold.set()
        proc = serve(tmp_path, port, vendor.url, database_url)
        with ConsentLog.open(database_url) as log:
            assert wait_for(lambda: {s[0] for s in states(log.engine).values()} == {"delivered"}, timeout=40), \
                states(log.engine)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        vendor.hold.set()
        vendor.down()
    # Every accepted event reached the vendor; the one in flight at the kill may have arrived twice
    # (Meta and TikTok de-duplicate it by event id), none is missing.
    assert set(vendor.event_ids()) == {f"k-{n}" for n in range(10)}


def test_a_slow_vendor_never_makes_a_send_outlast_its_lease(log) -> None:
    """Rows claimed together whose lease would run out during their send are given back unsent."""
    vendor = VendorStandIn()
    vendor.hold.clear()  # every request waits until the client times out
    box = Outbox(log.engine)
    for n in range(5):
        box.put_sync(Accept(event(n), "default"))
    worker = worker_for(box, vendor.url, timeout=0.5, lease=2.5)
    try:
        started = time.monotonic()
        assert worker.run_once() == 5
        spent = time.monotonic() - started
    finally:
        vendor.hold.set()
        vendor.down()
        box.close()
    rows = states(log.engine)
    sent = [e for e, (state, attempts, _) in rows.items() if attempts == 1]
    given_back = [e for e, (state, attempts, _) in rows.items() if attempts == 0]
    assert {rows[e][0] for e in rows} == {"pending"}
    # Each send took its 0.5 s timeout; once less than timeout + 1 s of the 2.5 s lease was left, the rest went back.
    assert 1 <= len(sent) <= 3 and len(sent) + len(given_back) == 5 and spent < 2.5


def test_two_worker_processes_on_one_sqlite_file_deliver_each_event_once(tmp_path) -> None:
    from served_gateway import free_port

    vendor = VendorStandIn()
    database_url = f"sqlite:///{tmp_path / 'consents.sqlite3'}"
    port = free_port()
    proc = serve(tmp_path, port, vendor.url, database_url, workers=2)
    try:
        assert all(post_event(port, n)[0] == 202 for n in range(40))
        with ConsentLog.open(database_url) as log:
            assert wait_for(lambda: {s[0] for s in states(log.engine).values()} == {"delivered"}, timeout=40)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        vendor.down()
    delivered = vendor.event_ids()
    assert sorted(delivered) == sorted(f"k-{n}" for n in range(40))  # each once

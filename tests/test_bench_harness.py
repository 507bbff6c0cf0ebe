"""The benchmark harness (bench/, `python -m bench`) keeps working: its quick mode runs end to end here and
reports every figure. Speed targets are not asserted (a shared CI machine says nothing about them); that a
figure was measured, and measured validly, is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the repository, not part of the installed package

from bench import report, wrk  # noqa: E402


def test_quick_run_measures_every_row_and_writes_the_reports(tmp_path: Path):
    results, markdown = tmp_path / "results.json", tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(results), "--markdown", str(markdown)],
                          cwd=ROOT, capture_output=True, text=True, timeout=170,
                          env={k: v for k, v in os.environ.items() if k != "TAG_GATEWAY_CONSENT_LOG"})
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    for _key, label, _unit, _target in report.ROWS:
        assert label in done.stdout, f"{label!r} missing from the table:\n{done.stdout}"
        assert label in markdown.read_text()
    document = json.loads(results.read_text())
    assert [row["id"] for row in document["rows"]] == [key for key, *_ in report.ROWS]
    for row in document["rows"]:
        assert isinstance(row["value"], (int, float)), row
        assert row["status"] in ("met", "MISSED", "") and (row["status"] == "") == (row["target"] == ""), row
    assert document["machine"]["cores"] == os.cpu_count() and document["machine"]["cpu_model"]
    # The ratios come from both sides of each comparison, measured in this run.
    for key in ("get200", "get304", "consent.sqlite", "consent.postgresql", "collect.sqlite", "collect.postgresql",
                "collect.delivering.sqlite"):
        rounds = document["raw"][key]["rounds"]
        assert len(rounds["subject"]) == len(rounds["baseline"]) == 1
        assert all(run["requests"] > 0 and run["failed"] == 0 for run in rounds["subject"] + rounds["baseline"])
        if key.startswith("collect"):  # every answer counted by the script was 202 accepted
            assert all(run["accepted"] == run["requests"] for run in rounds["subject"] + rounds["baseline"])
        if key.startswith(("consent", "collect")):  # each POST load read the CPU its gateway (and PostgreSQL) used
            groups = {"gateway", "PostgreSQL"} if key.endswith("postgresql") else {"gateway"}
            for role in ("subject", "baseline"):
                assert set(document["raw"][key][f"{role}_cpu_us"]) == groups, key
            assert document["raw"][key]["subject_cpu_us"]["gateway"] > 0
            if key.endswith("postgresql"):  # only the durable side makes PostgreSQL work
                assert document["raw"][key]["subject_cpu_us"]["PostgreSQL"] > 0
    delivery = document["raw"]["delivery.sqlite"]
    assert delivery["events"] == 300 and len(delivery["rounds"]["subject"]) == len(delivery["rounds"]["baseline"]) == 1
    assert document["raw"]["size.large"]["tags"] == 50
    from bench.configs import KINDS

    assert set(document["raw"]["size.large"]["kinds"]) == set(KINDS)
    assert f"{document['machine']['cores']} cores" in markdown.read_text()


def test_a_missed_target_is_shown_and_a_part_that_could_not_run_is_an_error():
    figures = {key: 1.0 for key, *_ in report.ROWS if key != "browser.banner"}
    figures["get200.ratio"] = 0.31
    rows = {row.id: row for row in report.build_rows(figures, {}, {"browser.banner": "no Chromium found"})}
    assert (rows["get200.ratio"].status, rows["get200.ratio"].target) == ("MISSED", ">= 0.5 x")
    assert rows["consent.sqlite.ratio"].status == "met"
    assert (rows["browser.banner"].status, rows["browser.banner"].detail) == ("ERROR", "no Chromium found")
    table = report.table(list(rows.values()))
    assert "MISSED" in table and "ERROR" in table and "0.31 x" in table


def test_wrk_summary_is_read_with_its_units():
    output = """Running 2s test @ http://127.0.0.1:1/container.js
  2 threads and 64 connections
  Latency Distribution
     50%  425.00us
     99%    1.02s
  206355 requests in 2.01s, 45.26MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec: 102533.13
"""
    load = wrk.parse(output)
    assert (load.requests_per_s, load.p99_ms, load.requests, load.failed, load.socket_errors) == \
        (102533.13, 1020.0, 206355, 7, 5)


# -- POST /collect's pieces, without load --------------------------------------------------------------

def test_the_collect_script_sends_a_new_event_id_with_every_request_and_counts_the_202s():
    import threading
    from http.server import BaseHTTPRequestHandler

    from bench import tools, unique_events
    from vendor_api_standins import QuietServer  # wrk hangs up mid-answer when its second ends: no traceback

    wrk_path = tools.ensure("wrk")["wrk"]  # installed as the harness does it (apt-get as root); else a clear failure
    seen, visitors = [], set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append(body["event_id"])
            visitors.add(self.headers["x-forwarded-for"])
            status = 200 if len(seen) % 7 == 0 else 202  # some "duplicates": the script must not count them
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = unique_events.new_run()
        script = unique_events.script(run, {"Content-Type": "application/json"},
                                      json.dumps({"tag": "t", "event_id": unique_events.PLACEHOLDER}), visitor_every=10)
        load = wrk.run(wrk_path, f"http://127.0.0.1:{server.server_address[1]}/collect", 1, script=script)
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) >= load.requests > 20
    assert len(set(seen)) == len(seen) and all(event_id.startswith(run + "-") for event_id in seen)
    assert load.accepted is not None and 0 < load.accepted < load.requests  # the 200s were not counted as accepted
    assert len(visitors) >= len(seen) // 10  # a new visitor address every 10 requests
    assert unique_events.new_run() != run


def test_the_outbox_discard_switch_skips_only_an_accepted_events_write(monkeypatch):
    import asyncio

    from bench import discard_outbox
    from gateway.forwarding.outbox import Accept, Drop, Outbox

    calls = []

    async def real_put(self, item):
        calls.append(item)
        return "counted"

    monkeypatch.setattr(Outbox, "put", real_put)
    monkeypatch.setattr(Outbox, "put_sync", lambda self, item: calls.append(item) or "counted")
    monkeypatch.delenv(discard_outbox.ENV_VAR, raising=False)
    assert discard_outbox.install() is False and Outbox.put is real_put
    monkeypatch.setenv(discard_outbox.ENV_VAR, "discard")
    assert discard_outbox.install() is True
    outbox = Outbox.__new__(Outbox)  # no engine needed: the patched put never reaches it for an Accept
    accept, drop = Accept(object(), "site"), Drop("site", "meta_pixel", "consent")
    assert asyncio.run(outbox.put(accept)) == "queued" and outbox.put_sync(accept) == "queued"
    assert calls == []
    assert asyncio.run(outbox.put(drop)) == "counted" and outbox.put_sync(drop) == "counted"
    assert calls == [drop, drop]  # drops are counted as in production


def test_the_collect_checks_refuse_a_load_that_was_not_what_it_claims():
    import pytest

    from bench.collect_bench import check_answers, check_stored
    from bench.errors import BenchError

    def load(requests, accepted):
        return wrk.Load(1000.0, 5.0, requests, 0, 0, accepted)

    assert check_answers("x", load(100, 100)) == 100
    with pytest.raises(BenchError, match="3 of 100 answers were not 202"):
        check_answers("x", load(100, 97))
    with pytest.raises(BenchError, match="did not report"):
        check_answers("x", load(100, None))
    check_stored("x", 100, lambda: 100, lambda: 0)
    check_stored("x", 100, lambda: 100 + wrk.CONNECTIONS, lambda: 0)  # requests in flight when wrk stopped
    with pytest.raises(BenchError, match="more than"):
        check_stored("x", 100, lambda: 101 + wrk.CONNECTIONS, lambda: 0)
    with pytest.raises(BenchError, match="only 99 in the outbox"):
        check_stored("x", 100, lambda: 99, lambda: 0)
    with pytest.raises(BenchError, match="dead"):
        check_stored("x", 100, lambda: 100, lambda: 2)


def test_a_load_waits_for_a_quiet_machine_and_a_busy_start_is_reported():
    from bench import quiet

    stat = "cpu  {busy} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 1 2 3 4\n"
    assert quiet.cpu_times(stat.format(busy=30, idle=70, steal=500)) == (30, 100)  # steal counts for neither

    def machine(busy_per_window: list[int]):
        """/proc/stat readings of a machine whose windows were this many percent busy, one after another."""
        totals = [(0, 0)]
        for percent in busy_per_window:
            busy, total = totals[-1]
            totals.append((busy + percent, total + 100))
        readings = iter(totals)
        clock = iter(range(100))
        return dict(read=lambda: next(readings), sleep=lambda _s: None, clock=lambda: next(clock))

    calm = quiet.settle(busy_below=0.1, max_wait_s=10, **machine([80, 40, 5, 90]))
    assert calm.quiet and calm.busy == 0.05 and calm.waited_s == 3  # three windows: 80 %, 40 %, then 5 %
    stuck = quiet.settle(busy_below=0.1, max_wait_s=2, **machine([80, 70, 60, 50]))
    assert not stuck.quiet and stuck.busy == 0.7

    from bench.harness import _record_loads, Figures
    from bench.loads import Comparison, Side

    comparison = Comparison("get200", Side("gateway", "http://x"), Side("nginx", "http://y"))
    comparison.runs = {"subject": [wrk.Load(900, 5.0, 1, 0, 0)], "baseline": [wrk.Load(1000, 4.0, 1, 0, 0)]}
    comparison.settled = [calm, stuck]
    figures = Figures()
    _record_loads(figures, [comparison])
    assert figures.values["get200.ratio"] == 0.9
    assert "1 of 2 loads began on a busy machine (CPU 70%" in figures.details["get200.ratio"]


def test_a_gateway_whose_port_was_taken_before_it_bound_it_is_relaunched_on_another(tmp_path: Path):
    import socket

    from bench.gateway_process import Gateway
    from bench.net import request

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    gateway = Gateway(ROOT / "tag_configs", f"sqlite:///{tmp_path / 'log.db'}")
    gateway.port = taken.getsockname()[1]  # as if something took free_port()'s answer before the server started
    gateway.url = f"http://127.0.0.1:{gateway.port}"
    try:
        gateway.start()
        assert gateway.port != taken.getsockname()[1]
        assert request("GET", gateway.url + "/healthz").status == 200
    finally:
        gateway.stop()
        taken.close()


def test_the_benchmarks_postgresql_commits_to_disk_as_production_does():
    # The suite's own servers skip fsync for speed; the benchmark's durable rows must not: a commit there waits for
    # its WAL on disk, as SQLite's does with synchronous=FULL.
    import psycopg

    from bench.harness import _postgres

    server, version = _postgres()
    try:
        assert version != "?"
        with psycopg.connect(server.url()) as connection:
            assert connection.execute("SHOW fsync").fetchone() == ("on",)
            assert connection.execute("SHOW full_page_writes").fetchone() == ("on",)
    finally:
        server.cleanup()


def test_cpu_is_read_per_group_of_processes_and_reported_beside_the_ratio(tmp_path: Path):
    from bench import cpu
    from bench.harness import Figures, _record_loads
    from bench.loads import Comparison, Side

    import time

    spin = "import time\nend = time.time() + 5\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        assert child.pid in cpu.descendants(os.getpid())
        (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")  # as PostgreSQL writes it
        tree = cpu.postgres_meter(tmp_path)
        tree_before, alone_before = tree(), cpu.cpu_seconds([os.getpid()])
        time.sleep(1)  # the child spins meanwhile; this process sleeps
        tree_used, alone_used = tree() - tree_before, cpu.cpu_seconds([os.getpid()]) - alone_before
    finally:
        child.kill()
        child.wait()
    assert tree_used >= 0.3 and alone_used < 0.2, (tree_used, alone_used)
    assert cpu.cpu_seconds([child.pid]) == 0  # gone: counts nothing

    comparison = Comparison("consent.postgresql", Side("durable", "http://x"), Side("off", "http://y"))
    comparison.runs = {
        "subject": [wrk.Load(3400, 30.0, 17000, 0, 0, cpu_us_per_request={"gateway": g, "PostgreSQL": p})
                    for g, p in ((470, 80), (460, 70), (500, 90))],
        "baseline": [wrk.Load(4500, 50.0, 22500, 0, 0, cpu_us_per_request={"gateway": g, "PostgreSQL": 1})
                     for g in (380, 390, 400)]}
    figures = Figures()
    _record_loads(figures, [comparison])
    assert ("CPU per request, µs (medians): gateway 470 vs 390, PostgreSQL 80 vs 1; "
            "the gateway's CPU alone, write off / durable: 0.83 x") in figures.details["consent.postgresql.ratio"]

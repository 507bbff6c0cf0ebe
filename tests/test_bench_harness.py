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
    for key in ("get200", "get304", "consent.sqlite", "consent.postgresql"):
        rounds = document["raw"][key]["rounds"]
        assert len(rounds["subject"]) == len(rounds["baseline"]) == 1
        assert all(run["requests"] > 0 and run["failed"] == 0 for run in rounds["subject"] + rounds["baseline"])
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

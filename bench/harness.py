"""The benchmark harness (issue 8): every figure in one run, one table, JSON, and bench/RESULTS.md.

    .venv/bin/python -m bench            # full: 5 rounds of 5 s loads, 3 browser visits (about 10 minutes)
    .venv/bin/python -m bench --quick    # 1 round of 2 s loads, 1 visit: keeps the harness working in CI
    .venv/bin/python -m bench --markdown # also rewrite bench/RESULTS.md

Servers: the gateway under test on SQLite (it also serves the GET loads and the store page for the
browser), the same with the consent write turned off, both again on PostgreSQL (tests/postgres.py starts
a throwaway server), and nginx serving the gateway's container bytes. Everything on loopback, in temp dirs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import cpu, machine, quiet, report, tools, wrk
from bench.configs import large_config, load_config_copy
from bench.errors import BenchError
from bench.collect_bench import collect_sides
from bench.gateway_process import Gateway, worker_count, workers_flag
from bench.loads import Comparison, Side, interleave
from bench.net import request

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "example_store"
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
RESULTS_JSON = Path(__file__).resolve().parent / "results.json"


@dataclass
class Settings:
    # Five: on this shared machine one round in three was often disturbed (a round's ratio 0.54 among 0.80 and
    # 0.86; 0.68 among 0.74 and 0.81), and with three rounds that one round moved the median.
    rounds: int = 5
    seconds: int = 5   # wrk takes whole seconds
    warmup: int = 1
    visits: int = 3
    browser: bool = True
    events: int = 2000  # delivery: events per round in the filled outbox
    settle_s: float = quiet.MAX_WAIT_S  # the longest wait for a quiet machine before a load
    command: str = ".venv/bin/python -m bench"


QUICK = dict(rounds=1, seconds=2, warmup=0, visits=1, events=300, settle_s=5.0)  # warmup 0: none


class Figures:
    """What the parts measured, keyed by report row id; a part that fails records its error on its rows."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.details: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.raw: dict[str, object] = {}

    def set(self, key: str, value: float, detail: str = "") -> None:
        self.values[key] = value
        self.details[key] = detail

    def fail(self, keys: list[str], reason: str) -> None:
        for key in keys:
            self.errors.setdefault(key, reason)

    def part(self, keys: list[str], action: Callable[[], None]) -> None:
        try:
            action()
        except BenchError as error:
            self.fail(keys, str(error))
        except Exception as error:  # a part that breaks must not hide the others' figures
            self.fail(keys, f"{type(error).__name__}: {error}")


def _keys(prefix: str) -> list[str]:
    return [key for key, *_ in report.ROWS if key.startswith(prefix)]


# ----------------------------------------------------------------------------- parts


def _sizes(figures: Figures, scratch: Path) -> None:
    from bench.sizes import container_sizes

    for name, make in (("example", lambda: ROOT / "tag_configs"), ("large", lambda: large_config(scratch / "large"))):
        def measure(name=name, make=make) -> None:
            sizes = container_sizes(make())
            figures.raw[f"size.{name}"] = sizes
            what = f"{sizes['tags']} tags ({', '.join(sizes['kinds'])})"
            figures.set(f"size.{name}.raw", sizes["raw"], what)
            figures.set(f"size.{name}.gzip", sizes["gzip"], "the body served to gzip clients (zopfli)"
                        + ("; README budget 8 KiB" if name == "example" else ""))
            figures.set(f"size.{name}.brotli", sizes["brotli"], "quality 11")
        figures.part(_keys(f"size.{name}."), measure)


def _records_counter(url: str, stack: ExitStack) -> Callable[[], int]:
    """Counts the consent log's records (read-only), to check what a load really wrote."""
    from sqlalchemy import func, select

    from gateway.store import database
    from gateway.store.schema import consent_records

    engine = database.create(database.resolve_url(url))
    stack.callback(engine.dispose)

    def count() -> int:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(consent_records)).scalar_one()
    return count


def _consent_sides(name: str, write: Gateway, off: Gateway, origin: str, body: str, stack: ExitStack,
                   database: cpu.Meter | None = None) -> Comparison:
    headers = {"Origin": origin, "Content-Type": "application/json"}
    for server in (write, off):
        answer = request("POST", server.url + "/consent", headers, body.encode())
        if answer.status != 200 or b'"token"' not in answer.body:
            raise BenchError(f"POST /consent ({name}) answered {answer.status}: {answer.body[:300]!r}")
    counters = {server: _records_counter(server.database_url, stack) for server in (write, off)}

    def all_stored(load: wrk.Load, before: int) -> None:
        # Every 2xx came after its commit, so the count can only be higher (requests still in flight when
        # wrk stopped). Read again once those are done before calling a shortfall a loss.
        acknowledged, stored = load.requests - load.failed, counters[write]() - before
        for _ in range(50):
            if stored >= acknowledged:
                return
            time.sleep(0.1)
            stored = counters[write]() - before
        raise BenchError(f"{name}: {acknowledged} decisions acknowledged (2xx), only {stored} in the consent log "
                         "5 s later")

    def none_stored(load: wrk.Load, before: int) -> None:
        stored = counters[off]() - before
        if stored:
            raise BenchError(f"{name}: the write-off server stored {stored} records: bench/discard_log.py no longer "
                             "catches the gateway's write (did ConsentLog.record change?)")

    return Comparison(
        f"consent.{name}",
        Side(f"POST /consent {name}, durable write", write.url + "/consent", "POST", headers, body,
             before=counters[write], after=all_stored, meters=cpu.post_meters(write, database)),
        Side(f"POST /consent {name}, write off", off.url + "/consent", "POST", headers, body,
             before=counters[off], after=none_stored, meters=cpu.post_meters(off, database)))


def _container_sides(gateway: Gateway, nginx_path: str, stack: ExitStack) -> list[Comparison]:
    from bench.nginx import Nginx

    gzip = {"Accept-Encoding": "gzip"}
    answer = request("GET", gateway.url + "/container.js", gzip)
    etag = answer.headers.get("ETag") or answer.headers.get("etag")
    if answer.status != 200 or not etag:
        raise BenchError(f"GET /container.js answered {answer.status} without an ETag")
    content_type = answer.headers.get("Content-Type", "text/javascript")
    nginx = Nginx(nginx_path, answer.body, content_type, answer.headers, worker_count()).start()
    stack.callback(nginx.stop)
    revalidate = {**gzip, "If-None-Match": etag}
    for server in (gateway.url, nginx.url):
        fresh, cached = request("GET", server + "/container.js", gzip), request("GET", server + "/container.js", revalidate)
        if fresh.status != 200 or fresh.body != answer.body or cached.status != 304:
            raise BenchError(f"{server}: expected 200 with the container and 304 on If-None-Match, "
                             f"got {fresh.status} ({len(fresh.body)} B) and {cached.status}")
    return [
        Comparison("get200", Side("gateway GET 200", gateway.url + "/container.js", headers=gzip),
                   Side("nginx GET 200", nginx.url + "/container.js", headers=gzip)),
        Comparison("get304", Side("gateway GET 304", gateway.url + "/container.js", headers=revalidate),
                   Side("nginx GET 304", nginx.url + "/container.js", headers=revalidate)),
    ]


def _allowed_origin(config_dir: Path, port: int) -> str:
    """A concrete origin the config allows (the first of site.allowed_origins, wildcards filled in)."""
    from gateway.config import load_config

    pattern = load_config(config_dir).site.allowed_origins[0]
    return pattern.replace(":*", f":{port}").replace("://*.", "://www.")


def _record_loads(figures: Figures, comparisons: list[Comparison]) -> None:
    for c in comparisons:
        if c.error:
            keys = [f"{c.key}.ratio", f"{c.key}.p99"]
            figures.fail(keys, c.error)
            continue
        s = c.summary()
        figures.raw[c.key] = s
        per_round = ", ".join(f"{ratio:.2f}" for ratio in s["round_ratios"])
        errors = f"; {s['socket_errors']} socket errors" if s["socket_errors"] else ""
        figures.set(f"{c.key}.ratio", s["ratio"],
                    f"{s['subject_requests_per_s']:,.0f} vs {s['baseline_requests_per_s']:,.0f} req/s "
                    f"(p99 {s['subject_p99_ms']:.1f} vs {s['baseline_p99_ms']:.1f} ms); per round {per_round}{errors}")
        if "subject_cpu_us" in s and "baseline_cpu_us" in s:
            figures.details[f"{c.key}.ratio"] += "; " + _cpu_detail(s["subject_cpu_us"], s["baseline_cpu_us"])
        if c.key.startswith("collect.delivering"):
            figures.details[f"{c.key}.ratio"] += ("; the durable server's delivery worker sending to the vendor "
                                                  "stand-ins (on this machine) during its loads")
        elif c.key.startswith("collect"):
            figures.details[f"{c.key}.ratio"] += "; delivery paused on both sides (bench/paused_delivery.py)"
        busy = c.busy_starts()
        if busy:
            figures.details[f"{c.key}.ratio"] += (
                f"; {len(busy)} of {len(c.settled)} loads began on a busy machine (CPU "
                f"{', '.join(f'{s.busy:.0%}' for s in busy)} after {max(s.waited_s for s in busy):.0f} s of waiting)")
        if c.key.startswith("get"):
            figures.set(f"{c.key}.p99", s["subject_p99_ms"], f"nginx {s['baseline_p99_ms']:.1f} ms")


def _cpu_detail(subject: dict[str, float], baseline: dict[str, float]) -> str:
    """CPU per request on both sides, per group of processes; and the ratio the gateway's own CPU alone gives."""
    parts = [f"{name} {subject[name]:.0f} vs {baseline.get(name, 0):.0f}" for name in subject]
    text = f"CPU per request, µs (medians): {', '.join(parts)}"
    if subject.get("gateway") and baseline.get("gateway") and len(subject) > 1:
        text += f"; the gateway's CPU alone, write off / durable: {baseline['gateway'] / subject['gateway']:.2f} x"
    return text


def _rss(figures: Figures, gateways: dict[str, Gateway]) -> None:
    peaks = {name: g.peak_rss_kib() for name, g in gateways.items()}
    figures.raw["rss_kib"] = {name: {str(pid): kib for pid, kib in p.items()} for name, p in peaks.items()}
    everything = [kib for p in peaks.values() for kib in p.values()]
    if not everything:
        raise BenchError("no gateway worker process found in /proc")
    shown = "; ".join(f"{name}: {', '.join(f'{kib / 1024:.0f}' for kib in p.values())}" for name, p in peaks.items())
    figures.set("rss.peak_worker", max(everything) / 1024, f"MiB per worker: {shown}")


def _browser(figures: Figures, gateway: Gateway, visits: int) -> None:
    from bench import browser_metrics

    seen = browser_metrics.measure(gateway.url, visits)
    figures.raw["browser"] = seen
    of = f"median of {visits} visits" if visits > 1 else "1 visit"
    figures.set("browser.banner", seen["banner_ms"], f"{of}; includes GET /consent, which brings the dialogs")
    figures.set("browser.first_pixel", seen["first_pixel_ms"], f"{of}; first: {seen['first_pixel_url'][:80]}")
    figures.set("browser.longest_task", seen["longest_task_ms"],
                f"{of} (per visit: {', '.join(f'{ms:.1f}' for ms in seen['longest_task_ms_per_visit'])} ms), "
                "from Chromium's trace")
    figures.set("browser.interaction", seen["interaction_ms"],
                f"{of}; from the click's time stamp to the first frame after its handlers")
    figures.set("browser.layout_shift", seen["layout_shift"],
                f"shift sum {seen['layout_shift_with_container']:.4f} with the container, "
                f"{seen['layout_shift_without_container']:.4f} with an empty one")


def _standins(stack: ExitStack):
    """The Meta/TikTok/GA4 API stand-ins (tests/vendor_api_standins.py, the suite's own) on loopback."""
    sys.path.insert(0, str(ROOT))
    from bench.collect_bench import TOKENS
    from tests.vendor_api_standins import VendorAPIStandIns

    standins = VendorAPIStandIns(tokens=TOKENS).start()
    stack.callback(standins.stop)
    return standins


def _delivery(figures: Figures, settings: Settings, gateway: Gateway, config: Path, standins, origin: str,
              body: str, progress, stack: ExitStack) -> None:
    from bench import delivery_bench
    from bench.collect_bench import forwarding_env

    env = dict(os.environ, PYTHONPATH=str(ROOT), **forwarding_env(standins.base_url))
    found = delivery_bench.measure(gateway.wait(), config, env, standins, origin, body, settings.events,
                                   settings.rounds, progress, stack)
    figures.raw["delivery.sqlite"] = found
    per_round = ", ".join(f"{ratio:.2f}" for ratio in found["round_ratios"])
    figures.set("delivery.sqlite.ratio", found["ratio"],
                f"{found['subject_events_per_s']:,.0f} vs {found['baseline_events_per_s']:,.0f} events/s "
                f"({found['events']:,} events a round; {worker_count()} worker processes' delivery threads vs one "
                f"thread sending straight, no outbox); per round {per_round}")


def _postgres():
    """A throwaway PostgreSQL server (tests/postgres.py, the suite's own), and its version and shared buffers as the
    report names them. With PostgreSQL's default settings, unlike the suite's: with fsync and full-page writes a
    commit waits for its WAL on disk, as SQLite's does here (synchronous=FULL), so the durable rows measure a write
    that survives a power cut on both."""
    sys.path.insert(0, str(ROOT))
    from tests.postgres import PostgresUnavailable, start_server

    try:
        server = start_server(durable=True)
    except PostgresUnavailable as error:
        raise BenchError(f"PostgreSQL: {error}") from None
    done = subprocess.run([str(server.bindir / "postgres"), "--version"], capture_output=True, text=True)
    found = re.search(r"\d+(\.\d+)+", done.stdout) if done.returncode == 0 else None
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as connection:
        buffers = connection.execute("SHOW shared_buffers").fetchone()[0]
    return server, f"{found.group(0) if found else '?'}, shared_buffers {buffers}"


def _stop_postgres(starting: Future) -> None:
    try:
        server, _version = starting.result()
    except Exception:  # it never started: nothing to stop (the error is on its rows)
        return
    server.cleanup()


# ----------------------------------------------------------------------------- the run


def run(settings: Settings, progress: Callable[[str], None]) -> tuple[list[report.Row], dict]:
    figures = Figures()
    load_before = os.getloadavg()[0]  # how busy the shared machine was: read the figures with it
    versions = {"nginx": "nginx: not installed", "wrk": "wrk: not installed", "postgresql": "not available"}
    # Exits in reverse: servers stop (ExitStack) before the temp dir that holds their files goes.
    with tempfile.TemporaryDirectory(prefix="tag-gateway-bench-") as scratch_name, \
            ThreadPoolExecutor(max_workers=1) as background, ExitStack() as stack:
        scratch = Path(scratch_name)
        server_keys = _keys("get") + _keys("consent") + _keys("collect") + _keys("delivery") + _keys("rss") + _keys("browser")
        try:
            paths = tools.ensure("nginx", "wrk")
        except BenchError as error:
            figures.fail(_keys("get") + _keys("consent") + _keys("collect"), str(error))
            paths = None
        config = load_config_copy(scratch / "config")
        # POST /collect and delivery: the purchase tags forwarded server-side, to the stand-ins.
        from bench.collect_bench import forwarding_env
        from bench.configs import server_side_copy

        collect_config = server_side_copy(scratch / "collect-config")
        standins = _standins(stack)
        forward = forwarding_env(standins.base_url)
        # The servers start (and build their containers) while the sizes are measured.
        progress("starting the gateways and PostgreSQL; container sizes")
        gateways = {"SQLite (also GET, browser)": Gateway(config, f"sqlite:///{scratch}/write.sqlite3", store_dir=STORE),
                    "SQLite write off": Gateway(config, f"sqlite:///{scratch}/off.sqlite3", discard=True),
                    "SQLite /collect": Gateway(collect_config, f"sqlite:///{scratch}/collect.sqlite3",
                                               paused_delivery=True, env=forward),
                    "SQLite /collect write off": Gateway(collect_config, f"sqlite:///{scratch}/collect-off.sqlite3",
                                                         discard_outbox=True, paused_delivery=True, env=forward),
                    "SQLite /collect delivering": Gateway(collect_config, f"sqlite:///{scratch}/collect-sending.sqlite3",
                                                          env=forward),
                    "SQLite delivery": Gateway(collect_config, f"sqlite:///{scratch}/delivery.sqlite3", env=forward)}
        for gateway in gateways.values():
            stack.callback(gateway.stop)
            gateway.launch()
        postgres = background.submit(_postgres)
        stack.callback(_stop_postgres, postgres)
        _sizes(figures, scratch)
        on_postgres: list[Gateway] = []

        def launch_on_postgres() -> None:
            server, versions["postgresql"] = postgres.result()
            database_meter.append(cpu.postgres_meter(server.data))
            for name, discard in (("PostgreSQL", False), ("PostgreSQL write off", True)):
                gateway = gateways[name] = Gateway(config, server.url(server.create_database()), discard=discard)
                stack.callback(gateway.stop)
                on_postgres.append(gateway.launch())
            for name, discard in (("PostgreSQL /collect", False), ("PostgreSQL /collect write off", True)):
                gateway = gateways[name] = Gateway(collect_config, server.url(server.create_database()),
                                                   discard_outbox=discard, paused_delivery=True, env=forward)
                stack.callback(gateway.stop)
                collect_on_postgres.append(gateway.launch())
        collect_on_postgres: list[Gateway] = []
        database_meter: list[cpu.Meter] = []  # PostgreSQL's processes, once it runs
        figures.part(_keys("consent.postgresql") + _keys("collect.postgresql"), launch_on_postgres)
        comparisons: list[Comparison] = []
        try:
            main, off = (gateways[name].wait() for name in ("SQLite (also GET, browser)", "SQLite write off"))
        except BenchError as error:
            figures.fail(server_keys, str(error))
            main = None
        origin = _allowed_origin(config, main.port) if main else ""
        body = json.dumps({"categories": ["analytics", "marketing"], "action": "accept_all"})
        if main and paths:
            figures.part(_keys("get"), lambda: comparisons.extend(_container_sides(main, paths["nginx"], stack)))
            figures.part(_keys("consent.sqlite"),
                         lambda: comparisons.append(_consent_sides("sqlite", main, off, origin, body, stack)))
            if on_postgres:
                figures.part(_keys("consent.postgresql"), lambda: comparisons.append(
                    _consent_sides("postgresql", *(g.wait() for g in on_postgres), origin, body, stack,
                                   database_meter[0])))
            collect_origin = _allowed_origin(collect_config, main.port)
            figures.part(_keys("collect.sqlite"), lambda: comparisons.append(collect_sides(
                "sqlite", *(gateways[n].wait() for n in ("SQLite /collect", "SQLite /collect write off")),
                collect_origin, body, stack)))
            if collect_on_postgres:
                figures.part(_keys("collect.postgresql"), lambda: comparisons.append(collect_sides(
                    "postgresql", *(g.wait() for g in collect_on_postgres), collect_origin, body, stack,
                    database=database_meter[0])))
            figures.part(_keys("collect.delivering"), lambda: comparisons.append(collect_sides(
                "sqlite, delivery running", *(gateways[n].wait() for n in ("SQLite /collect delivering",
                                                                           "SQLite /collect write off")),
                collect_origin, body, stack, key="collect.delivering.sqlite")))
            # Every server started (not still importing or building) before the first load.
            for gateway in gateways.values():
                figures.part([], gateway.wait)
            interleave(comparisons, paths["wrk"], settings.rounds, settings.seconds, settings.warmup, progress,
                       before_load=lambda: quiet.settle(max_wait_s=settings.settle_s))
            _record_loads(figures, comparisons)
        if gateways and main:
            figures.part(_keys("rss"), lambda: _rss(figures, gateways))
            # The /collect servers' workers may still be delivering their loads' events: stop them first.
            for name, gateway in gateways.items():
                if "/collect" in name:
                    gateway.stop()
            progress("delivery")
            figures.part(_keys("delivery"), lambda: _delivery(
                figures, settings, gateways["SQLite delivery"], collect_config, standins,
                _allowed_origin(collect_config, main.port), body, progress, stack))
            if settings.browser:
                progress("browser")
                figures.part(_keys("browser"), lambda: _browser(figures, main, settings.visits))
        if paths:
            versions["nginx"] = tools.version([paths["nginx"], "-v"]).replace("nginx version: ", "")
            versions["wrk"] = tools.version([paths["wrk"], "--version"]).split(" Copyright")[0]

    skipped = {} if settings.browser else {key: "skipped (--no-browser)" for key in _keys("browser")}
    rows = report.build_rows(figures.values, figures.details, {**figures.errors, **skipped})
    # The table keeps an error's first line; the rest (a server's last output, say) is what explains it.
    for reason in dict.fromkeys(figures.errors.values()):
        if "\n" in reason.strip():
            progress(f"ERROR in full: {reason.strip()}")
    for row in rows:
        if row.id in skipped:
            row.status = "skipped"
    header = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": {**machine.summary(versions), "load_average_before": round(load_before, 2)},
        "settings": {"command": settings.command, "rounds": settings.rounds, "seconds": settings.seconds,
                     "delivery_events": settings.events, "wrk_threads": wrk.THREADS, "settle_max_s": settings.settle_s, "settle_busy_below": quiet.BUSY_BELOW, "wrk_connections": wrk.CONNECTIONS, "workers": worker_count(),
                     "workers_note": "gateway serve --workers" if workers_flag() else "gateway serve has no --workers: one process",
                     "gateway_command": "gateway serve --config COPY_OF_tag_configs --no-watch"
                                        + (f" --workers {workers_flag()}" if workers_flag() else ""),
                     "browser": (f"Debian/Playwright Chromium, {settings.visits} fresh visit(s) of the example store's home "
                                 "page" if settings.browser else "skipped")},
    }
    return rows, report.as_json(rows, header, figures.raw)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s loads and 1 browser visit (CI)")
    parser.add_argument("--no-browser", action="store_true", help="leave out the browser part")
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, metavar="PATH", help="default: bench/results.json")
    parser.add_argument("--markdown", nargs="?", const=RESULTS_MD, type=Path, metavar="PATH",
                        help="also write the Markdown report (default path: bench/RESULTS.md)")
    args = parser.parse_args(argv)
    settings = Settings(**(QUICK if args.quick else {}), browser=not args.no_browser,
                        command=" ".join([".venv/bin/python -m bench", *map(shlex.quote, argv or sys.argv[1:])]))
    rows, document = run(settings, lambda text: print(f"bench: {text}", file=sys.stderr, flush=True))
    print(report.table(rows))
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(report.markdown(rows, document))
    return 1 if any(row.status == "ERROR" for row in rows) else 0

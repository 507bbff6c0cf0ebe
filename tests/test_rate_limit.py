"""POST /consent is limited per client address, with one budget shared by every worker process."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import SECRET, STORE_ORIGIN
from gateway.app import create_app
from gateway.rate_limit import RateLimiter, client_key, default_path
from gateway.turns import FileTurns

CHOICE = b'{"categories": ["analytics"]}'
HEADERS = {"Content-Type": "application/json", "Origin": STORE_ORIGIN}


def limit(config_dir: Path, setting: str) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  consent_max_age_days: 180\n",
                                             f"  consent_max_age_days: 180\n  consent_rate_limit: {setting}\n"))


def client_for(config_dir: Path, consent_log, peer: str = "203.0.113.7", **kwargs) -> TestClient:
    from gateway.live_config import LiveConfig

    app = create_app(LiveConfig.load(config_dir), SECRET, consent_log, watch=False)
    return TestClient(app, base_url="http://gateway.test", client=(peer, 50000), **kwargs)


def test_over_the_limit_gets_429_with_retry_after_and_nothing_is_recorded(config_dir, consent_log) -> None:
    limit(config_dir, "{requests: 3, per_seconds: 60}")
    with client_for(config_dir, consent_log) as client:
        answers = [client.post("/consent", content=CHOICE, headers=HEADERS) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "20"  # one request back every 60/3 s
    assert refused.headers["access-control-allow-origin"] == STORE_ORIGIN  # the container can read why
    assert refused.headers["access-control-expose-headers"] == "Retry-After"  # ... and when to try again
    assert refused.headers["cache-control"] == "no-store" and "set-cookie" not in refused.headers
    assert len(list(consent_log.records())) == 3


def test_each_worker_opens_its_limit_file_at_start_not_at_its_first_post(config_dir, consent_log) -> None:
    # The first check would otherwise create the file (and sweep the directory's stale ones) on the event loop.
    limit(config_dir, "{requests: 3, per_seconds: 60}")
    path = default_path(config_dir, consent_log.url)
    assert not path.exists()
    with client_for(config_dir, consent_log):
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.exists()


def test_other_clients_have_their_own_budget(config_dir, consent_log) -> None:
    limit(config_dir, "{requests: 1, per_seconds: 60}")
    with client_for(config_dir, consent_log, peer="203.0.113.7") as first:
        assert first.post("/consent", content=CHOICE, headers=HEADERS).status_code == 200
        assert first.post("/consent", content=CHOICE, headers=HEADERS).status_code == 429
    with client_for(config_dir, consent_log, peer="203.0.113.8") as second:
        assert second.post("/consent", content=CHOICE, headers=HEADERS).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_is_limited(config_dir, consent_log) -> None:
    # The example config trusts loopback proxies: each X-Forwarded-For client has its own budget,
    # and a client cannot escape its budget by adding hops of its own in front.
    limit(config_dir, "{requests: 1, per_seconds: 60}")
    with client_for(config_dir, consent_log, peer="127.0.0.1") as proxy:
        def post(forwarded: str) -> int:
            return proxy.post("/consent", content=CHOICE, headers={**HEADERS, "X-Forwarded-For": forwarded}).status_code

        assert post("198.51.100.1") == 200
        assert post("198.51.100.1") == 429
        assert post("10.9.9.9, 198.51.100.1") == 429
        assert post("198.51.100.2") == 200


def test_the_limit_can_be_turned_off(config_dir, consent_log) -> None:
    limit(config_dir, "false")
    with client_for(config_dir, consent_log) as client:
        assert {client.post("/consent", content=CHOICE, headers=HEADERS).status_code for _ in range(4)} == {200}


def test_refused_origins_and_reads_do_not_use_the_budget(config_dir, consent_log) -> None:
    limit(config_dir, "{requests: 1, per_seconds: 60}")
    with client_for(config_dir, consent_log) as client:
        for _ in range(3):
            client.post("/consent", content=CHOICE, headers={**HEADERS, "Origin": "https://evil.example"})
            client.get("/consent")
            client.get("/container.js")
        assert client.post("/consent", content=CHOICE, headers=HEADERS).status_code == 200


def test_the_bucket_refills_evenly(tmp_path) -> None:
    limiter = RateLimiter(tmp_path / "private" / "buckets.sqlite3")
    start = 1_000_000.0
    assert [limiter.wait("a", 2, 10, now=start) for _ in range(2)] == [0, 0]
    assert limiter.wait("a", 2, 10, now=start) == 5          # one token per 5 s
    assert limiter.wait("a", 2, 10, now=start + 4.9) == 1    # refused requests take nothing
    assert limiter.wait("a", 2, 10, now=start + 5) == 0
    assert limiter.wait("a", 2, 10, now=start - 100) == 5    # a clock stepping back refills nothing
    assert limiter.wait("a", 2, 10, now=start + 1000) == 0   # never more than the budget
    assert limiter.wait("a", 2, 10, now=start + 1000) == 0
    assert limiter.wait("a", 2, 10, now=start + 1000) == 5
    limiter.close()


def _take_many(path: str, count: int, results) -> None:
    limiter = RateLimiter(Path(path))
    results.put(sum(limiter.wait("203.0.113.7", 20, 3600) == 0 for _ in range(count)))


def _check_many_on_a_loop(path: str, count: int, results) -> None:
    async def checks() -> int:
        limiter = RateLimiter(Path(path))
        answers = await asyncio.gather(*(limiter.check("203.0.113.7", 20, 3600) for _ in range(count)))
        return sum(answer == 0 for answer in answers)
    results.put(asyncio.run(checks()))


@pytest.mark.parametrize("take_many", [_take_many, _check_many_on_a_loop], ids=["threads", "event loops"])
def test_worker_processes_share_one_budget(tmp_path, take_many) -> None:
    # Four processes (as `gateway serve --workers 4` would run) each try 20 requests of one client at
    # once: together they get the budget of 20, not 4 x 20. From event loops, as a server's workers
    # check, each has all 20 in flight at once, so the processes meet at the turn again and again.
    path = str(tmp_path / "private" / "buckets.sqlite3")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=take_many, args=(path, 20, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    allowed = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert sum(allowed) == 20, allowed


def test_a_check_waits_for_another_process_turn_without_blocking_the_loop(tmp_path) -> None:
    limiter = RateLimiter(tmp_path / "private" / "buckets.sqlite3")
    limiter.wait("203.0.113.7", 2, 3600)  # the file exists; one of two requests used
    other_process = FileTurns(limiter.path.with_name(limiter.path.name + "-turn"))  # its own open file: excluded
    assert other_process.try_take()

    async def scenario() -> tuple[list[float], float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticking = asyncio.ensure_future(ticker())
        asyncio.get_running_loop().call_later(0.05, other_process.give_back)
        started = time.monotonic()
        answers = [await limiter.check("203.0.113.7", 2, 3600) for _ in range(2)]
        waited = time.monotonic() - started
        ticking.cancel()
        return answers, waited, ticks

    answers, waited, ticks = asyncio.run(scenario())
    assert answers[0] == 0 and answers[1] > 0  # the second of two requests was taken after the turn came back
    assert waited >= 0.05
    assert ticks >= 10  # the loop served others meanwhile
    limiter.close()
    other_process.close()


def test_clients_are_keyed_by_address_and_ipv6_by_its_64() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key(None) == "unknown"


def test_the_file_goes_into_the_runtime_directory_systemd_gives_else_the_temp_directory(tmp_path,
                                                                                        monkeypatch) -> None:
    import tempfile

    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/tag-gateway:/run/other")  # one path per RuntimeDirectory=
    assert default_path(tmp_path, "sqlite:///log.sqlite3").parent == Path(f"/run/tag-gateway/tag-gateway-{os.getuid()}")
    monkeypatch.delenv("RUNTIME_DIRECTORY")
    assert default_path(tmp_path, "sqlite:///log.sqlite3").parent.parent == Path(tempfile.gettempdir())


def test_the_shared_file_is_private_to_this_user(tmp_path) -> None:
    path = default_path(tmp_path, "sqlite:///log.sqlite3")
    assert path.parent.name == f"tag-gateway-{os.getuid()}"
    assert default_path(tmp_path, "sqlite:///other.sqlite3") != path  # another gateway, another budget
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    limiter = RateLimiter(shared / "buckets.sqlite3")
    assert limiter.wait("a", 1, 60) == 0 and limiter.wait("a", 1, 60) == 0  # not used, so not applied
    assert not (shared / "buckets.sqlite3").exists()


def test_an_unusable_limiter_lets_choices_through_and_says_so(config_dir, consent_log, caplog, monkeypatch) -> None:
    limit(config_dir, "{requests: 1, per_seconds: 60}")
    monkeypatch.setattr("gateway.app.default_path", lambda *_: Path("/proc/no-such-dir/buckets.sqlite3"))
    with client_for(config_dir, consent_log) as client:
        assert [client.post("/consent", content=CHOICE, headers=HEADERS).status_code for _ in range(3)] == [200] * 3
    assert caplog.text.count("rate limit not applied") == 1


def test_a_check_never_waits_for_the_disk_and_keeps_its_file_small(tmp_path) -> None:
    # What keeps a check cheap on the request path (its cost is in bench/'s POST rows, which run with
    # the limiter on): no flush to disk per check, WAL, and a write-ahead log that does not grow.
    limiter = RateLimiter(tmp_path / "private" / "buckets.sqlite3")
    for n in range(3000):
        limiter.wait(f"198.51.100.{n % 250}", 10, 60)
    db = limiter._db
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    wal = tmp_path / "private" / "buckets.sqlite3-wal"
    assert wal.stat().st_size <= 64 * 4096 + 2 * 4096  # checkpointed every 64 pages
    assert db.execute("SELECT count(*) FROM buckets").fetchone()[0] == 250  # one row per client
    limiter.close()


def test_files_of_gateways_idle_for_a_day_are_removed_unless_open(tmp_path) -> None:
    directory = tmp_path / "private"
    old, in_use = directory / "rate-limit-old.sqlite3", directory / "rate-limit-in-use.sqlite3"
    closed = RateLimiter(old)
    closed.wait("a", 1, 60)
    closed.close()  # its -wal and -shm go with the last connection; its -turn stays
    other = RateLimiter(in_use)
    other.wait("a", 1, 60)  # stays open: its -shm file exists
    day_ago = time.time() - 90000
    for path in (old, in_use):
        os.utime(path, (day_ago, day_ago))
    fresh = RateLimiter(directory / "rate-limit-new.sqlite3")
    fresh.wait("a", 1, 60)
    assert not old.exists() and in_use.exists()
    assert not old.with_name(old.name + "-turn").exists() and in_use.with_name(in_use.name + "-turn").exists()
    assert other.wait("a", 1, 60) > 0  # the open one still counts
    other.close()
    fresh.close()

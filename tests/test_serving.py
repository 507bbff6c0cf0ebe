"""The production server (`gateway serve`): workers, precomputed container answers, metrics, access
log, slow clients, and workers that never outlive their master. Real subprocesses, real sockets."""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import signal
import socket
import time

import brotli
import pytest

from served_gateway import ServedGateway, closed_by_server, read_answers

TOKEN = "metrics-" + "7f3a9c" * 6
ORIGIN = "http://127.0.0.1:8000"  # in the example's site.allowed_origins


@pytest.fixture(scope="module")
def gateway():
    with ServedGateway("--workers", "2", env={"TAG_GATEWAY_METRICS_TOKEN": TOKEN}) as served:
        yield served


def test_two_workers_serve_one_port(gateway) -> None:
    assert len(gateway.worker_pids()) == 2
    assert "2 workers on http://127.0.0.1:" in gateway.log()


def test_every_representation_through_the_real_server(gateway) -> None:
    plain = gateway.request("GET", "/container.js")
    assert plain.status == 200 and "content-encoding" not in plain.headers
    zipped = gateway.request("GET", "/container.js", {"Accept-Encoding": "gzip;q=1, br;q=0"})
    smallest = gateway.request("GET", "/container.js", {"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert zipped.headers["content-encoding"] == "gzip" and gzip.decompress(zipped.body) == plain.body
    assert smallest.headers["content-encoding"] == "br" and brotli.decompress(smallest.body) == plain.body
    assert int(smallest.headers["content-length"]) == len(smallest.body)
    head = gateway.request("HEAD", "/container.js", {"Accept-Encoding": "br"})
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == smallest.headers["content-length"]
    again = gateway.request("GET", "/container.js", {"Accept-Encoding": "br", "If-None-Match": smallest.headers["etag"]})
    assert again.status == 304 and again.body == b""
    assert gateway.request("POST", "/container.js").status == 405


def _metrics(gateway, **headers) -> str:
    answer = gateway.request("GET", "/metrics", headers)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return answer.body.decode()


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_requests_of_every_worker_and_consent_decisions(gateway) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    time.sleep(1.5)  # let earlier tests' requests reach the metrics
    before = _metrics(gateway, **auth)
    for _ in range(20):  # new connections each time: the kernel spreads them over both workers
        assert gateway.request("GET", "/container.js", {"Accept-Encoding": "gzip"}).status == 200
    choice = json.dumps({"categories": ["analytics"], "action": "custom"}).encode()
    stored = gateway.request("POST", "/consent", {"Origin": ORIGIN, "Content-Type": "application/json"}, choice)
    assert stored.status == 200, stored.body
    time.sleep(2.5)  # each worker folds its requests into the metrics four times a second
    after = _metrics(gateway, **auth)
    ok = 'tag_gateway_http_requests_total{route="/container.js",status="200"}'
    assert _value(after, ok) - _value(before, ok) == 20
    latency = 'tag_gateway_http_request_duration_seconds_count{route="/container.js"}'
    assert _value(after, latency) - _value(before, latency) == 20
    buckets = 'tag_gateway_http_request_duration_seconds_bucket{le="+Inf",route="/container.js"}'
    assert _value(after, buckets) == _value(after, latency)
    decided = 'tag_gateway_consent_decisions_total{action="custom"}'
    assert _value(after, decided) - _value(before, decided) == 1
    assert 'tag_gateway_config_degraded 0.0' in after


def test_metrics_need_the_token(gateway) -> None:
    refused = gateway.request("GET", "/metrics", {"Authorization": "Bearer wrong"})
    assert refused.status == 401 and json.loads(refused.body)["error"]["code"] == "unauthorized"
    assert gateway.request("GET", "/metrics").status == 401
    with ServedGateway("--workers", "1") as closed:
        answer = closed.request("GET", "/metrics")
        assert answer.status == 404
        assert "TAG_GATEWAY_METRICS_TOKEN" in json.loads(answer.body)["error"]["message"]


def test_access_log_has_one_line_per_request_without_full_addresses_or_queries(gateway) -> None:
    gateway.request("GET", "/consent?gpc=1&email=someone@example.com", {"Origin": ORIGIN})
    time.sleep(2.5)
    lines = [line for line in gateway.log().splitlines() if '"GET /consent' in line]
    assert lines, gateway.log()
    assert lines[-1].startswith("127.0.0.0/24 [") and '"GET /consent HTTP/1.1" 200 ' in lines[-1]
    assert "someone@example.com" not in gateway.log() and "127.0.0.1 [" not in gateway.log()


def test_no_access_log_when_turned_off() -> None:
    with ServedGateway("--workers", "1", "--no-access-log") as quiet:
        quiet.request("GET", "/container.js")
        time.sleep(2)
        assert '"GET /container.js' not in quiet.log()


def test_workers_die_with_their_master() -> None:
    with ServedGateway("--workers", "2") as served:
        workers = served.worker_pids()
        os.kill(served.proc.pid, signal.SIGKILL)  # the master only, as the OOM killer would
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}/status") and
                                                  "Z" not in _state(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid)]


def test_sigterm_to_the_master_stops_the_workers_and_the_master() -> None:
    with ServedGateway("--workers", "2") as served:
        workers = served.worker_pids()
        os.kill(served.proc.pid, signal.SIGTERM)  # the master only: it stops its workers itself
        assert served.proc.wait(15) == 0
        assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid)]
        assert "Traceback" not in served.log()


def _state(pid: int) -> str:
    try:
        return next(l for l in open(f"/proc/{pid}/status") if l.startswith("State:"))
    except (OSError, StopIteration):
        return "Z"


def test_slow_clients_cannot_hold_the_server() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2300
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    slow: list[socket.socket] = []
    with ServedGateway("--workers", "2", "--header-timeout", "2", "--no-access-log") as served:
        try:
            for _ in range(2000):  # slowloris: connect, send half a request line, never finish
                sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(sock)
            started = time.monotonic()
            assert served.request("GET", "/healthz", timeout=5).status == 200
            assert time.monotonic() - started < 2
            time.sleep(4)  # past the header timeout: the server has closed them all
            closed = 0
            for sock in slow[:200]:
                sock.settimeout(0.5)
                try:
                    closed += sock.recv(1) == b""
                except (ConnectionResetError, socket.timeout):
                    closed += 1
            assert closed == 200
        finally:
            for sock in slow:
                sock.close()
        assert "Traceback" not in served.log()


@pytest.mark.parametrize("peer, forwarded, secure", [
    ("127.0.0.1", "https", True),     # the TLS proxy in front, on a trusted address (loopback by default)
    ("127.0.0.1", "http", False),
    ("127.0.0.1", None, False),
    ("203.0.113.9", "https", False),  # anyone else claiming https gains nothing
])
def test_the_consent_cookie_is_secure_behind_a_trusted_tls_proxy(live, consent_log, peer, forwarded, secure) -> None:
    from starlette.testclient import TestClient

    from conftest import SECRET
    from gateway.app import create_app

    headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    if forwarded:
        headers["X-Forwarded-Proto"] = forwarded
    with TestClient(create_app(live, SECRET, consent_log, watch=False), client=(peer, 50000)) as client:
        answer = client.post("/consent", json={"categories": ["analytics"]}, headers=headers)
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"].lower()
    assert ("; secure" in cookie) is secure
    assert ("samesite=none" in cookie) is secure  # cross-site use of the cookie needs Secure


def test_start_up_warns_when_allowed_origins_would_refuse_the_store() -> None:
    with ServedGateway("--workers", "1", "--store-url", "https://shop.example/checkout",
                       "--store-url", "http://localhost:3000/") as served:
        log = served.log()
        assert ('WARNING: site.allowed_origins does not allow the store at https://shop.example: '
                'its visitors\' choices would be refused (403)') in log
        assert 'Add "https://shop.example" to site.allowed_origins.' in log
        assert "http://localhost:3000" not in log  # allowed by http://localhost:*


def test_all_interfaces_with_only_local_origins_is_warned_about() -> None:
    from gateway.serving.origin_check import origin_warnings

    local = ("http://127.0.0.1:*", "http://localhost:8000")
    [warning] = origin_warnings(local, [], "0.0.0.0")
    assert "lists only local origins" in warning
    assert origin_warnings(local, [], "127.0.0.1") == []
    assert origin_warnings(local + ("https://shop.example",), [], "0.0.0.0") == []
    assert "not a URL" in origin_warnings(local, ["shop.example"], "127.0.0.1")[0]


def test_a_refused_origin_is_logged_once_with_the_fix(gateway) -> None:
    choice = json.dumps({"categories": []}).encode()
    for _ in range(6):
        answer = gateway.request("POST", "/consent", {"Origin": "https://forgotten.example",
                                                      "Content-Type": "application/json"}, choice)
        assert answer.status == 403
    time.sleep(0.5)
    hints = [l for l in gateway.log().splitlines() if "refused a consent request from origin https://forgotten.example" in l]
    assert 1 <= len(hints) <= 2, hints  # once per worker at most
    assert 'add "https://forgotten.example" to site.allowed_origins' in hints[0]


def test_hostile_paths_stay_on_one_log_line(gateway) -> None:
    raw = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    raw.sendall(b'GET /a%22b%0Aforged%20line HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    raw.recv(4096)
    raw.close()
    time.sleep(1)
    [line] = [l for l in gateway.log().splitlines() if "forged" in l]
    assert '"GET /a\\"b\\nforged line HTTP/1.1" 404' in line


def test_the_real_server_closes_slow_silent_and_oversized_requests(capsys) -> None:
    # uvicorn alone never times out a connection that sends nothing, nor limits header size:
    # both are the gateway's protocol's (gateway/serving/fast_protocol.py).
    with ServedGateway("--workers", "1", "--header-timeout", "1", "--no-access-log") as served:
        silent = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        slow = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        slow.sendall(b"GET /container.js HTTP/1.1\r\nHost: x\r\n")
        kept = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /container.js HTTP/1.1\r\nHost: x\r\n\r\n")
        answers, _ = read_answers(kept, ["GET", "GET"])
        assert [a.status for a in answers] == [200, 200]
        kept.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request, never finished
        started = time.monotonic()
        for sock in (silent, slow, kept):
            assert closed_by_server(sock, within=3)
            sock.close()
        assert time.monotonic() - started < 3
        huge = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        huge.sendall(b"GET /container.js HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 60_000)
        time.sleep(0.3)  # read by the server, under the cap; the rest crosses it and is read whole
        huge.sendall(b"a" * 10_000 + b"\r\n")
        assert huge.recv(4096).startswith(b"HTTP/1.1 431 ")
        assert closed_by_server(huge, within=3)
        huge.close()
        assert served.request("GET", "/healthz").status == 200
        assert "Traceback" not in served.log()

    from gateway.cli import build_parser

    assert build_parser().parse_args(["serve", "--header-timeout", "60"]).header_timeout == 60
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--header-timeout", "61"])
    assert "'61' is not a whole number of seconds, 1 to 60" in capsys.readouterr().err


def test_a_dead_worker_is_replaced() -> None:
    with ServedGateway("--workers", "2") as served:
        first = served.worker_pids()
        os.kill(first[0], signal.SIGKILL)  # a crash: segfault, OOM killer
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = served.worker_pids()
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2 and first[0] not in now and first[1] in now, (first, now)
        assert f"worker {first[0]} was killed by SIGKILL; starting another" in served.log()
        for _ in range(10):  # whichever worker the kernel picks answers
            assert served.request("GET", "/container.js").status == 200
            assert served.request("GET", "/healthz").status == 200


def test_the_listening_port_taken_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        served = ServedGateway("--workers", "1")
        served.port = taken.getsockname()[1]
        served.args[served.args.index("--port") + 1] = str(served.port)
        try:
            with pytest.raises(AssertionError, match="exited with 1") as raised:
                served.start(timeout=20)
            assert f"cannot listen on 127.0.0.1:{served.port}: Address already in use" in str(raised.value)
        finally:
            served.stop()
            served.scratch.cleanup()

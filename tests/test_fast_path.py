"""The container's fast path inside uvicorn's HTTP protocol (gateway/serving/fast_protocol.py), in process:
a real uvicorn protocol and the real Front, fed raw bytes through a transport that records what is written.

Byte for byte the same answers as the Starlette route, no ASGI task for a plain container request,
never a reordered pipelined answer, connection close honoured, and the header deadline and size cap."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from pathlib import Path

import brotli
import pytest
import uvicorn
from uvicorn.server import ServerState

from conftest import SECRET
from gateway.app import create_app
from gateway.serving.fast_protocol import MAX_HEADER_BYTES, bound
from gateway.serving.front import Front
from gateway.serving.telemetry import Telemetry
from gateway.sites import LiveSites

from served_gateway import read_answers

DEFAULT_HEADERS = [(b"date", b"Sun, 06 Dec 2026 09:00:00 GMT"), (b"server", b"uvicorn")]
MULTI_SITE = Path(__file__).resolve().parent / "samples" / "multi_site"
PEER = ("203.0.113.7", 50123)


class Transport:
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.data += data

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default=None):
        return {"peername": PEER, "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Connection:
    def __init__(self, front: Front, header_timeout: float = 10.0, limit: int | None = None) -> None:
        config = uvicorn.Config(front, http=bound(front, header_timeout), ws="none", lifespan="off",
                                proxy_headers=False, access_log=False, log_config=None, limit_concurrency=limit)
        config.load()
        self.state = ServerState()
        self.state.default_headers = DEFAULT_HEADERS
        self.protocol = config.http_protocol_class(config=config, server_state=self.state, app_state={},
                                                   _loop=asyncio.get_running_loop())
        self.transport = Transport()
        self.protocol.connection_made(self.transport)

    def send(self, data: bytes) -> None:
        self.protocol.data_received(data)

    async def answers(self, methods: list[str]) -> list:
        """Wait for the tasks of the normal path, then parse what was written, in order."""
        for _ in range(200):
            if not self.state.tasks:
                break
            await asyncio.sleep(0.01)
        assert not self.state.tasks, "the app did not answer"
        left, right = socket.socketpair()
        with left, right:
            left.sendall(bytes(self.transport.data))
            left.shutdown(socket.SHUT_WR)
            answers, rest = read_answers(right, methods)
            assert rest == b"" and right.recv(1) == b"", "nothing written beyond the answers"
        return answers


@pytest.fixture
def front(live, consent_log) -> Front:
    return Front(live, create_app(live, SECRET, consent_log, watch=False), Telemetry(live))


@pytest.fixture
def sites_front(consent_log, tmp_path, monkeypatch) -> Front:
    monkeypatch.setenv("TAG_GATEWAY_STATE_FILE", str(tmp_path / "state.json"))
    sites = LiveSites.load(MULTI_SITE)
    return Front(sites, create_app(sites, SECRET, consent_log, watch=False), Telemetry(sites))


def request(method: str, path: str, *headers: str, version: str = "1.1") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: gateway.test\r\n{''.join(h + chr(13) + chr(10) for h in headers)}\r\n".encode()


def test_a_plain_container_request_is_answered_while_parsing_without_a_task(front, live) -> None:
    async def body():
        conn = Connection(front)
        conn.send(request("GET", "/container.js", "Accept-Encoding: gzip, br;q=0"))
        assert not conn.state.tasks and conn.transport.data, "answered synchronously, no ASGI task"
        assert conn.protocol.timeout_keep_alive_task is not None and not conn.transport.closing
        [answer] = await conn.answers(["GET"])
        assert answer.status == 200 and answer.header("content-encoding") == "gzip"
        assert answer.headers[:2] == [("date", "Sun, 06 Dec 2026 09:00:00 GMT"), ("server", "uvicorn")]
        assert gzip.decompress(answer.body) == live.current.container.body
        assert answer.header("etag") == live.current.container.gzip_etag
        assert conn.state.total_requests == 1
        conn.send(request("GET", "/container.js?v=2", f"If-None-Match: {live.current.container.etag}"))
        assert not conn.state.tasks
        assert [a.status for a in await conn.answers(["GET", "GET"])] == [200, 304]
    asyncio.run(body())


VARIANTS = [("GET", ()), ("HEAD", ()), ("GET", ("Accept-Encoding: br",)), ("HEAD", ("Accept-Encoding: gzip;q=1, br;q=0",)),
            ("GET", ("Accept-Encoding: gzip, br", "If-None-Match: W/{br}")), ("GET", ("If-None-Match: {identity}, x",)),
            ("GET", ("Accept-Encoding: gzip", "If-None-Match: {identity}")), ("GET", ("Connection: close",))]


@pytest.mark.parametrize("layout, path", [("one site", "/container.js"), ("several sites", "/c/shoes.js")])
def test_the_fast_path_writes_exactly_what_the_app_answers(front, sites_front, live, layout, path) -> None:
    served = front if layout == "one site" else sites_front

    async def body():
        container = (live if layout == "one site" else LiveSites.load(MULTI_SITE).sites["shoes"]).current.container
        etags = {"br": container.brotli_etag, "identity": container.etag}
        for method, headers in VARIANTS:
            headers = [h.format(**etags) for h in headers]
            fast, normal = Connection(served), Connection(served)
            fast.send(request(method, path, *headers))
            assert not fast.state.tasks, "the fast path answered"
            normal.send(request(method, path, *headers, "Content-Length: 0"))  # a body: the normal way
            assert normal.state.tasks, "the app answers"
            await normal.answers([method])
            assert bytes(fast.transport.data) == bytes(normal.transport.data), (method, headers)
            assert fast.transport.closing == normal.transport.closing == ("Connection: close" in headers)
        brotli_answer = Connection(served)
        brotli_answer.send(request("GET", path, "Accept-Encoding: br"))
        [answer] = await brotli_answer.answers(["GET"])
        assert brotli.decompress(answer.body) == container.body
    asyncio.run(body())


def test_pipelined_requests_are_answered_in_order(front) -> None:
    async def body():
        conn = Connection(front)
        conn.send(request("GET", "/healthz") + request("GET", "/container.js") + request("HEAD", "/container.js")
                  + request("GET", "/healthz"))
        assert not conn.transport.data, "the container waits for the health answer before it"
        answers = await conn.answers(["GET", "GET", "HEAD", "GET"])
        assert [a.header("content-type") for a in answers] == [
            "application/json", "text/javascript; charset=utf-8", "text/javascript; charset=utf-8", "application/json"]
        assert json.loads(answers[3].body)["status"] == "ok"
    asyncio.run(body())


def test_a_request_pipelined_after_a_fast_answer_is_not_cut_by_the_keep_alive_timer(front) -> None:
    async def body():
        conn = Connection(front)
        conn.send(request("GET", "/container.js") + request("GET", "/healthz"))
        assert conn.state.tasks and conn.transport.data  # the container answered, /healthz running
        assert conn.protocol.timeout_keep_alive_task is None, "an idle timer would close during /healthz"
        assert [a.status for a in await conn.answers(["GET", "GET"])] == [200, 200]
        assert conn.protocol.timeout_keep_alive_task is not None  # idle again: uvicorn armed it
    asyncio.run(body())


@pytest.mark.parametrize("raw", [request("GET", "/container.js", version="1.0"),
                                 request("GET", "/container.js", "Connection: close")])
def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(front, raw) -> None:
    async def body():
        conn = Connection(front)
        conn.send(raw + request("GET", "/healthz"))  # anything after is never answered
        assert conn.transport.closing and not conn.state.tasks
        [answer] = await conn.answers(["GET"])
        assert answer.status == 200 and answer.header("connection") == "close"
    asyncio.run(body())


def test_a_container_request_with_a_body_or_a_paused_client_goes_the_normal_way(front) -> None:
    async def body():
        chunked = Connection(front)
        chunked.send(request("GET", "/container.js", "Transfer-Encoding: chunked") + b"0\r\n\r\n")
        assert chunked.state.tasks
        assert [a.status for a in await chunked.answers(["GET"])] == [200]
        paused = Connection(front)
        paused.protocol.flow.pause_writing()  # the client does not read: its buffer must not grow
        paused.send(request("GET", "/container.js"))
        assert paused.state.tasks and not paused.transport.data
        paused.protocol.flow.resume_writing()
        assert [a.status for a in await paused.answers(["GET"])] == [200]
    asyncio.run(body())


def test_the_fast_path_is_counted_and_logged_like_any_request(front) -> None:
    async def body():
        conn = Connection(front)
        conn.send(request("HEAD", "/container.js") + request("GET", "/container.js", "If-None-Match: *"))
        stats, lines = front.telemetry.take()
        assert {key: entry[0] for key, entry in stats.items()} == {("/container.js", 200): 1, ("/container.js", 304): 1}
        assert [line[:5] for line in lines] == [("203.0.113.7", "HEAD", "/container.js", "1.1", 200),
                                                ("203.0.113.7", "GET", "/container.js", "1.1", 304)]
        assert '203.0.113.0/24 [' in front.telemetry._format(lines)[0]
    asyncio.run(body())


def test_headers_have_a_deadline(front) -> None:
    async def body():
        silent, slow, done = Connection(front, 0.05), Connection(front, 0.05), Connection(front, 0.05)
        slow.send(b"GET /container.js HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        done.send(request("GET", "/container.js"))
        await asyncio.sleep(0.2)
        assert silent.transport.closing and slow.transport.closing and not slow.transport.data
        assert not done.transport.closing, "complete headers disarm the deadline"
        done.send(b"GET /container.js HTTP/1.1\r\n")  # the next request's headers: a new deadline
        await asyncio.sleep(0.2)
        assert done.transport.closing
    asyncio.run(body())


def test_request_headers_are_capped(front) -> None:
    async def body():
        huge = Connection(front)
        huge.send(b"GET /container.js HTTP/1.1\r\n")
        for _ in range(MAX_HEADER_BYTES // 8000 + 1):
            huge.send(b"X-Pad: " + b"a" * 8000 + b"\r\n")
        assert huge.transport.closing
        assert bytes(huge.transport.data).startswith(b"HTTP/1.1 431 ")
        fine = Connection(front)  # 40 KB of headers in one piece: under the cap
        fine.send(request("GET", "/container.js", *(f"X-Pad-{n}: {'a' * 1000}" for n in range(40))))
        assert bytes(fine.transport.data).startswith(b"HTTP/1.1 200 ")
    asyncio.run(body())


def test_beyond_the_connection_limit_only_the_container_is_answered(front) -> None:
    async def body():
        health, container = Connection(front, limit=1), Connection(front, limit=1)  # each alone reaches it
        health.send(request("GET", "/healthz"))
        container.send(request("GET", "/container.js"))
        assert [a.status for a in await health.answers(["GET"])] == [503]
        assert [a.status for a in await container.answers(["GET"])] == [200]
        assert health.transport.closing and not container.transport.closing
    asyncio.run(body())

"""Every answer to GET/HEAD /container.js, computed once per container build.

A request then only matches two headers: Accept-Encoding picks a variant (identity, gzip or
brotli, see negotiation.py) and If-None-Match is compared with that variant's strong ETag.
Both the Starlette route (tests, `create_app`) and the uvicorn protocol's fast path
(fast_protocol.py) answer from here, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from functools import lru_cache

from gateway.container import Container, build_ui_script, ui_version
from gateway.serving.negotiation import choose_coding

CACHE_CONTROL = "public, max-age=300"  # config edits reach visitors within five minutes
# /ui.js at the version the container asks for (?v=): that URL's bytes never change.
IMMUTABLE = "public, max-age=31536000, immutable"
Headers = list[tuple[str, str]]


@dataclass(frozen=True, eq=False)  # hashed by identity: the fast path keys its wire bytes by answer
class Answer:
    status: int
    headers: Headers  # str pairs; `raw_headers` are the same as bytes (ASGI, and the fast path's wire bytes)
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes  # empty for 304 and HEAD


def _answer(status: int, headers: Headers, body: bytes) -> Answer:
    return Answer(status, headers, [(k.lower().encode(), v.encode("latin-1")) for k, v in headers], body)


@dataclass(frozen=True)
class _Variant:
    etag: str
    ok: Answer
    head: Answer
    not_modified: Answer


def _variant(body: bytes, etag: str, coding: str, cache_control: str) -> _Variant:
    common = [("ETag", etag), ("Cache-Control", cache_control), ("Vary", "Accept-Encoding"),
              ("Cross-Origin-Resource-Policy", "cross-origin"), ("X-Content-Type-Options", "nosniff")]
    full = [("Content-Type", "text/javascript; charset=utf-8"), *common]
    if coding != "identity":
        full.append(("Content-Encoding", coding))
    full.append(("Content-Length", str(len(body))))
    return _Variant(etag, _answer(200, full, body), _answer(200, full, b""), _answer(304, common, b""))


class ContainerAnswers:
    def __init__(self, container: Container, cache_control: str = CACHE_CONTROL) -> None:
        self.variants = {"identity": _variant(container.body, container.etag, "identity", cache_control),
                         "gzip": _variant(container.gzipped, container.gzip_etag, "gzip", cache_control)}
        if container.brotli:
            self.variants["br"] = _variant(container.brotli, container.brotli_etag, "br", cache_control)
        else:
            self.variants["br"] = self.variants["gzip"]

    def answer(self, method: str, accept_encoding: str | None, if_none_match: str | None) -> Answer:
        variant = self.variants[choose_coding(accept_encoding)]
        if if_none_match and _matches(if_none_match, variant.etag):
            return variant.not_modified
        return variant.head if method == "HEAD" else variant.ok


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: If-None-Match uses the weak comparison, so W/"x" matches "x"."""
    if if_none_match == etag:
        return True  # the common case: the browser echoes the one ETag it has
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


class AnswersCache:
    """One site's answers when a gateway serves several (gateway.sites): rebuilt only when a reload
    replaced that site's container, so sites never evict each other's answers."""

    __slots__ = ("container", "answers")

    def __init__(self) -> None:
        self.container: Container | None = None
        self.answers: ContainerAnswers | None = None

    def __call__(self, container: Container) -> ContainerAnswers:
        answers = self.answers
        if self.container is not container or answers is None:
            answers = self.answers = ContainerAnswers(container)
            self.container = container
        return answers


_latest: tuple[Container, ContainerAnswers] | None = None


def answers_for(container: Container) -> ContainerAnswers:
    """The answers for the container being served; rebuilt only when a reload replaced it."""
    global _latest
    latest = _latest
    if latest is None or latest[0] is not container:
        latest = _latest = (container, ContainerAnswers(container))
    return latest[1]


@lru_cache(maxsize=1)
def _ui_script_answers() -> tuple[ContainerAnswers, ContainerAnswers]:
    script = build_ui_script()
    return ContainerAnswers(script, IMMUTABLE), ContainerAnswers(script)


def ui_script_answers(version: str | None) -> ContainerAnswers:
    """GET /ui.js?v=<version>. Only the URL of this very version may be cached for good: a container
    built by another release asks for another ?v= and must revalidate what it gets."""
    immutable, revalidated = _ui_script_answers()
    return immutable if version == ui_version() else revalidated

"""The Starlette application: container, consent endpoints, health, and (optionally) a store.

CORS is handled here rather than with Starlette's CORSMiddleware because the
allowed origins come from the live configuration, which can change while the
server runs; the middleware fixes its origin list at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.consent import ACTIONS, COOKIE_NAME, ConsentSigner
from gateway.live_config import LiveConfig, Snapshot
from gateway.store import ConsentLog, Decision, LogUnavailable
from gateway.visitor import client_ip, gpc_header, place_of, texts_shown, what_applies

MAX_CONSENT_BODY = 2048  # bytes; a real choice is well under 200
CONSENT_HEADER = "X-Tag-Gateway-Consent"
CONTAINER_CACHE = "public, max-age=300"  # config edits reach visitors within five minutes

GZIP = Middleware(GZipMiddleware, minimum_size=1000)

log = logging.getLogger("tag_gateway")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _cors_headers(request: Request, snapshot: Snapshot) -> dict[str, str] | None:
    """CORS headers for an allowed Origin; {} for a request without one; None for a refused origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    host = request.headers.get("host", "")
    if origin in (f"http://{host}", f"https://{host}"):
        return {}  # same origin: store pages served by the gateway itself
    if not snapshot.origins.allows(origin):
        return None
    return _readable_by(origin)


def _readable_by(origin: str | None) -> dict[str, str]:
    """CORS headers that let `origin` read the answer; none for a missing or opaque ("null") origin."""
    if not origin or origin == "null":
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def _origin_refused(request: Request) -> JSONResponse:
    # The refusal itself is readable by the refused page, so a store owner who forgot to list an
    # origin sees this message in the browser console instead of an opaque CORS failure.
    origin = request.headers.get("origin")
    return error(403, "origin_not_allowed",
                 f"origin {origin or '(none)'} is not in site.allowed_origins of the gateway's configuration",
                 _readable_by(origin))


def create_app(live: LiveConfig, secret: str, consent_log: ConsentLog, store_dir: Path | None = None,
               watch: bool = True) -> Starlette:
    """`consent_log` receives every decision before POST /consent acknowledges it."""
    signer = ConsentSigner(secret)

    async def container(request: Request) -> Response:
        built = live.current.container
        use_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
        etag = built.gzip_etag if use_gzip else built.etag
        headers = {"ETag": etag, "Cache-Control": CONTAINER_CACHE, "Vary": "Accept-Encoding",
                   "Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff"}
        candidates = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
        if etag in candidates or "*" in candidates:
            return Response(status_code=304, headers=headers)
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        return Response(built.gzipped if use_gzip else built.body, media_type="text/javascript", headers=headers)

    async def consent_preflight(request: Request) -> Response:
        # Answered for any origin: the request that follows is what checks the origin, and its
        # refusal is then readable (see _origin_refused). A preflight grants no access by itself.
        cors = _readable_by(request.headers.get("origin"))
        cors.update({"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Max-Age": "600",
                     "Access-Control-Allow-Headers": f"Content-Type, {CONSENT_HEADER}"})
        return Response(status_code=204, headers=cors)

    async def read_consent(request: Request) -> Response:
        snapshot = live.current
        cors = _cors_headers(request, snapshot)
        if cors is None:
            return _origin_refused(request)
        config = snapshot.config
        site = config.site
        token = request.headers.get(CONSENT_HEADER) or request.cookies.get(COOKIE_NAME)
        reading = signer.read(token, policy_version=site.policy_version, known_categories=config.category_keys,
                              max_age=site.acceptance_max_age_seconds, refusal_max_age=site.refusal_max_age_seconds,
                              site=site, policy_since=snapshot.policy_since)
        body = what_applies(request, snapshot, reading.consent, reading.reason)
        return JSONResponse(body, headers={**cors, "Cache-Control": "no-store"})

    async def dialogs(request: Request) -> Response:
        # Public markup (the owner's texts), fetched by the container when a visitor with a stored
        # choice opens the preferences; cached like the container.
        snapshot = live.current
        etag = f'"{hashlib.sha256(snapshot.dialogs.encode()).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": CONTAINER_CACHE, "Access-Control-Allow-Origin": "*",
                   "Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff"}
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(snapshot.dialogs, media_type="text/html; charset=utf-8", headers=headers)

    async def store_consent(request: Request) -> Response:
        snapshot = live.current
        cors = _cors_headers(request, snapshot)
        if cors is None or request.headers.get("origin") is None:
            return _origin_refused(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return error(415, "unsupported_media_type", "send the choice as application/json", cors)
        raw = await _read_limited(request, MAX_CONSENT_BODY)
        if raw is None:
            return error(400, "body_too_large", f"the body must be at most {MAX_CONSENT_BODY} bytes", cors)
        choice, problem = _parse_choice(raw, snapshot.config.category_keys)
        if problem:
            return error(400, *problem, cors)
        config = snapshot.config
        site = config.site
        place = place_of(request, snapshot)
        token, consent = signer.issue(choice.categories, site.policy_version, offered=config.category_keys,
                                      rule=place.rule, gpc=choice.gpc or gpc_header(request), action=choice.action,
                                      site=site)
        decision = Decision(
            consent_id=consent.consent_id, decided_at=datetime.fromtimestamp(consent.timestamp, timezone.utc),
            action=consent.action, categories=consent.categories, offered=consent.offered, region=place.code,
            rule=place.rule, gpc=consent.gpc, policy_version=consent.policy_version,
            container_version=snapshot.container.etag.strip('"'), banner_texts=texts_shown(snapshot, place.rule),
            language=str(config.banner["language"]), ip=client_ip(request, snapshot),
            user_agent=request.headers.get("user-agent"))
        try:
            # Written before it is acknowledged: no token, no cookie, nothing fires without the record.
            await run_in_threadpool(consent_log.record, decision)
        except LogUnavailable as exc:
            log.error("consent log unavailable, choice not stored: %s", exc)
            return error(503, "log_unavailable", "the choice could not be recorded; it will be asked again",
                         {**cors, "Retry-After": "5"})
        response = JSONResponse({"token": token, "consent": consent.as_json()}, headers={**cors, "Cache-Control": "no-store"})
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE_NAME, token, max_age=site.consent_max_age_seconds, path="/",
                            domain=site.cookie_domain, secure=secure, httponly=False,
                            samesite="none" if secure and cors else "lax")
        return response

    async def health(request: Request) -> Response:
        current = live.current
        body: dict[str, Any] = {"status": "ok", "tags": len(current.config.tags), "container_etag": current.container.etag}
        if live.last_error:
            body["status"] = "degraded"
            body["config_errors"] = [str(p) for p in live.last_error.problems]
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, "http_error", exc.detail, exc.headers)  # keeps Allow on a 405

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(500, "internal_error", "the gateway hit an unexpected error; it has been logged")

    routes = [
        Route("/container.js", container, methods=["GET", "HEAD"]),
        Route("/consent", store_consent, methods=["POST"]),
        # These two carry the dialogs' markup (a few KB): gzip when the client takes it. Only them:
        # /container.js is gzipped once per build and must not pay for a middleware per request.
        Route("/consent", read_consent, methods=["GET"], middleware=[GZIP]),
        Route("/consent", consent_preflight, methods=["OPTIONS"]),
        Route("/ui", dialogs, methods=["GET"], middleware=[GZIP]),
        Route("/healthz", health, methods=["GET"]),
    ]
    if store_dir is not None:
        routes.append(Mount("/", StaticFiles(directory=store_dir, html=True), name="store"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        task = asyncio.create_task(live.watch()) if watch else None
        yield
        if task:
            task.cancel()

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error, Exception: server_error})


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Choice:
    categories: tuple[str, ...]
    action: str
    gpc: bool


def _parse_choice(raw: bytes, known: tuple[str, ...]) -> tuple[Choice | None, tuple[str, str] | None]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, ("invalid_json", f"the body is not valid JSON ({exc.__class__.__name__})")
    if not isinstance(body, dict) or "categories" not in body or not set(body) <= {"categories", "action", "gpc"}:
        return None, ("invalid_body", 'expected {"categories": [...], "action"?: ..., "gpc"?: true|false} and nothing else')
    chosen = body["categories"]
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        return None, ("invalid_body", "categories must be a list of category names")
    action = body.get("action", "custom")
    if action not in ACTIONS:
        return None, ("invalid_body", f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(body.get("gpc", False), bool):
        return None, ("invalid_body", "gpc must be true or false")
    unknown = [c for c in chosen if c not in known]
    if unknown:
        return None, ("unknown_category", f"unknown categories {unknown}; known: {list(known)}")
    # `necessary` is always granted; keep the configuration's order for a stable record.
    return Choice(tuple(c for c in known if c == "necessary" or c in chosen), action, body.get("gpc", False)), None

"""The Starlette application: container, consent endpoints, health, and (optionally) a store.

CORS is handled here rather than with Starlette's CORSMiddleware because the
allowed origins come from the live configuration, which can change while the
server runs; the middleware fixes its origin list at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
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

from gateway import i18n
from gateway.consent import ACTIONS, ConsentSigner
from gateway.email_pixel import EmailPixel
from gateway.forwarding.service import ForwardingService
from gateway.preview import PreviewRoutes
from gateway.live_config import LiveConfig, Snapshot
from gateway.origins import normalize_origin
from gateway.rate_limit import RateLimiter, client_key, default_path
from gateway.serving import telemetry
from gateway.serving.container_answers import CACHE_CONTROL, AnswersCache, answers_for, ui_script_answers
from gateway.sites import SITE_NAME, LiveSites, log_name
from gateway.static_files import StoreFiles
from gateway.store import ConsentLog, Decision, LogUnavailable
from gateway.vendor_choice import offered_vendors, parse_refused, with_unseen_vendors
from gateway.visitor import client_ip, gpc_header, place_of, served_over_https, texts_shown, what_applies

MAX_CONSENT_BODY = 2048  # bytes; a real choice is well under 200
CONSENT_HEADER = "X-Tag-Gateway-Consent"

GZIP = Middleware(GZipMiddleware, minimum_size=1000)
ADMIN_TOKEN_ENV = "TAG_GATEWAY_ADMIN_TOKEN"
MIN_ADMIN_TOKEN = 32
# Every JSON answer: never sniffed as another type, never readable by another site's <script> or
# <img> (CORP only governs no-cors loads; the container's CORS fetches are unaffected).
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "same-origin"}

log = logging.getLogger("tag_gateway")


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**API_HEADERS, **(headers or {})})


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return answer({"error": {"code": code, "message": message}}, status, {**(headers or {}), "Cache-Control": "no-store"})


def _cors_headers(request: Request, snapshot: Snapshot) -> dict[str, str] | None:
    """CORS headers for an allowed Origin; {} for a request without one; None for a refused or malformed one.

    Only the normalised origin is ever echoed: never a raw header value."""
    raw = request.headers.get("origin")
    if raw is None:
        return {}
    origin = normalize_origin(raw)
    if origin is None:
        return None
    host = request.headers.get("host", "")
    if origin in (normalize_origin(f"http://{host}"), normalize_origin(f"https://{host}")):
        return {}  # same origin: store pages served by the gateway itself
    if not snapshot.origins.allows(origin):
        return None
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


# The container waits as long as Retry-After says before sending the choice again; a page on another
# origin can read that header only when it is exposed.
_EXPOSE_RETRY = {"Access-Control-Expose-Headers": "Retry-After"}

_refused_logged: set[str] = set()
REFUSED_LOG_LIMIT = 200  # distinct origins logged per worker: anyone can send any Origin


def _log_refused_once(origin: str, site: str | None = None) -> None:
    """A store owner who forgot an origin learns it from the log, once, not once per visitor."""
    key = origin if site is None else f"{site} {origin}"
    if key in _refused_logged or len(_refused_logged) >= REFUSED_LOG_LIMIT:
        return
    _refused_logged.add(key)
    log.warning("refused a consent request from origin %s: if that is the store, add \"%s\" to "
                "site.allowed_origins%s", origin[:200], origin[:200], f" of site {site}" if site else "")
    if len(_refused_logged) == REFUSED_LOG_LIMIT:
        log.warning("%d distinct origins refused; not logging further ones", REFUSED_LOG_LIMIT)


def _origin_refused(request: Request, site: str | None = None) -> JSONResponse:
    raw = request.headers.get("origin")
    origin = normalize_origin(raw)
    if raw is not None and origin is None and raw != "null":
        log.info("refused a request whose Origin header is not an origin: %r", raw[:200])
        return error(400, "invalid_origin", "the Origin header must be an origin: scheme://host[:port]")
    _log_refused_once(origin or raw or "(none)", site)
    # The origin (normalised) may read the refusal with a plain fetch, but a refused origin never
    # gets Access-Control-Allow-Credentials: nothing it sends with cookies is readable.
    cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}
    owner = f"site {site}" if site else "the gateway's configuration"
    return error(403, "origin_not_allowed",
                 f"origin {origin or raw or '(none)'} is not in site.allowed_origins of {owner}", cors)


def _allowed_methods(request: Request) -> str | None:
    """Every method some route takes at this path: Starlette's own 405 names only the first route's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(request.scope["path"]):
            methods |= route.methods
    return ", ".join(sorted(methods)) or None


def refuse_ambiguous_length(app):
    """ASGI wrapper: 400 for a request with both Content-Length and Transfer-Encoding.

    A proxy that trusts one header and a server that trusts the other disagree on where the
    request ends, which lets a client smuggle a second request past the proxy (RFC 9112 §6.1).
    httptools (`gateway serve`'s parser) refuses such requests itself with a 400 before any app
    sees them, but h11 and other servers accept them: the app refuses them whatever runs it."""
    refusal = error(400, "ambiguous_length", "send Content-Length or Transfer-Encoding, not both",
                    {"Connection": "close"})  # the framing is unknown: the connection cannot be reused

    async def checked(scope, receive, send):
        if scope["type"] == "http" and b"transfer-encoding" in (headers := dict(scope["headers"])) \
                and b"content-length" in headers:
            return await refusal(scope, receive, send)
        return await app(scope, receive, send)
    return checked


def _admin_token() -> str | None:
    token = os.environ.get(ADMIN_TOKEN_ENV, "")
    if token and len(token) < MIN_ADMIN_TOKEN:
        log.warning("%s is shorter than %d characters: the detailed health view stays off", ADMIN_TOKEN_ENV,
                    MIN_ADMIN_TOKEN)
    return token if len(token) >= MIN_ADMIN_TOKEN else None


def admin_refusal(request: Request, admin_token: str | None, view: str = "the detailed health view") -> Response | None:
    """None when the request carries the admin token; else the answer: 404 when no token is set, 401 otherwise."""
    if admin_token is None:
        return error(404, "admin_view_off", f"{view} is off: set {ADMIN_TOKEN_ENV} (at least "
                     f"{MIN_ADMIN_TOKEN} characters) in the gateway's environment and send it as "
                     "Authorization: Bearer <token>")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), admin_token.encode()):
        return error(401, "unauthorized", f"send Authorization: Bearer <{ADMIN_TOKEN_ENV}>",
                     {"WWW-Authenticate": 'Bearer realm="tag-gateway"'})
    return None


@dataclass
class _Site:
    """One site's live config and what is its own: rate-limit buckets, container answers, cookie path."""
    name: str | None  # None: the one-site layout (/container.js, /consent, /ui)
    live: LiveConfig
    limiter: RateLimiter
    answers: AnswersCache | None  # None: the module-wide cache of the one-site layout
    cookie_path: str


def _unknown_site(request: Request) -> JSONResponse:
    name = request.path_params.get("site")
    if name is None:  # /container.js, /consent, /ui of a gateway that serves several sites
        return error(404, "unknown_site", "this gateway serves several sites: use /c/<site>.js, /c/<site>/consent "
                                          "and /c/<site>/ui")
    shown = f" '{name}'" if SITE_NAME.fullmatch(name) else ""  # never echo arbitrary text
    return error(404, "unknown_site", f"this gateway serves no site{shown}")


def create_app(live: LiveConfig | LiveSites, secret: str, consent_log: ConsentLog, store_dir: Path | None = None,
               watch: bool = True, adapters=None) -> Starlette:
    """`consent_log` receives every decision before POST /consent acknowledges it. `live` is one site's
    config, or every site of a root (gateway.sites): each site is served under /c/<name>. `adapters`
    (tests): vendor -> adapter module, instead of gateway.forwarding.vendors.

    The delivery worker of server-side events and the config watcher start with the app's lifespan
    (`gateway serve`: in each worker)."""
    signer = ConsentSigner(secret)
    sites = LiveSites.of(live)
    default = None if sites.default is None else _Site(
        None, sites.default, RateLimiter(default_path(sites.default.directory, consent_log.url)), None, "/")
    by_name = {name: _Site(name, site, RateLimiter(default_path(site.directory, consent_log.url)),
                           sites.answers.setdefault(name, AnswersCache()), f"/c/{name}")
               for name, site in sites.sites.items()}
    limiters = [s.limiter for s in (default, *by_name.values()) if s is not None]
    admin_token = _admin_token()
    email = EmailPixel(secret, consent_log, admin_token)  # GET /e/<campaign>.gif, /email/tokens, /email/stats

    def configs_by_log_name() -> dict[str, Any]:
        every = [(None, sites.default)] if sites.default is not None else list(sites.sites.items())
        return {log_name(name, site.current.config.site): site.current.config for name, site in every}

    # POST /collect, the outbox and its delivery worker (gateway/forwarding/service.py).
    forwarding = ForwardingService(consent_log, signer, configs_by_log_name, adapters)

    def site_of(request: Request) -> _Site | None:
        name = request.path_params.get("site")
        return default if name is None else by_name.get(name)

    def config_of(request: Request):
        site = site_of(request)
        return None if site is None else site.live.current.config

    async def container(request: Request) -> Response:
        # The same precomputed answers the fast path writes (gateway/serving/fast_protocol.py).
        site = site_of(request)
        if site is None:
            return _unknown_site(request)
        headers = request.headers
        answers = answers_for if site.answers is None else site.answers
        answer = answers(site.live.current.container).answer(
            request.method, headers.get("accept-encoding"), headers.get("if-none-match"))
        response = Response(answer.body, status_code=answer.status)
        response.raw_headers = answer.raw_headers
        return response

    async def banner_script(request: Request) -> Response:
        # The banner's code: the same for every site, so an unknown site's name does not matter here
        # beyond its 404 (the container of a site that exists asks for it).
        if site_of(request) is None:
            return _unknown_site(request)
        answer = ui_script_answers(request.query_params.get("v")).answer(
            request.method, request.headers.get("accept-encoding"), request.headers.get("if-none-match"))
        response = Response(answer.body, status_code=answer.status)
        response.raw_headers = answer.raw_headers
        return response

    async def consent_preflight(request: Request) -> Response:
        # Only an allowed origin's preflight passes: a refused one would fail in the browser anyway
        # (no Access-Control-Allow-Credentials), so it gets the refusal at once and sends nothing.
        site = site_of(request)
        if site is None:
            return _unknown_site(request)
        cors = _cors_headers(request, site.live.current)
        if cors is None:
            return _origin_refused(request, site.name)
        cors.update({"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Max-Age": "600",
                     "Access-Control-Allow-Headers": f"Content-Type, {CONSENT_HEADER}", "Allow": "GET, HEAD, OPTIONS, POST"})
        return Response(status_code=204, headers=cors)

    async def read_consent(request: Request) -> Response:
        site = site_of(request)
        if site is None:
            return _unknown_site(request)
        snapshot = site.live.current
        cors = _cors_headers(request, snapshot)
        if cors is None:
            return _origin_refused(request, site.name)
        config = snapshot.config
        site = config.site
        token = request.headers.get(CONSENT_HEADER) or request.cookies.get(site.cookie_name)
        reading = signer.read(token, policy_version=site.policy_version, known_categories=config.category_keys,
                              max_age=site.acceptance_max_age_seconds, refusal_max_age=site.refusal_max_age_seconds,
                              site=site, policy_since=snapshot.policy_since)
        # Vendors added since the choice: held back for this visitor, who is asked again (gateway.vendor_choice).
        consent, reask = with_unseen_vendors(reading.consent, config) if reading.consent else (None, False)
        body = what_applies(request, snapshot, consent, reading.reason)
        if reask and body["consent"] is not None:
            body["reask"] = True  # runtime.js shows the banner over the choice that still applies
            body["ui"] = snapshot.dialogs(body["lang"])
        return answer(body, headers={**cors, "Cache-Control": "no-store"})

    async def dialogs(request: Request) -> Response:
        # Public markup (the owner's texts), fetched by the container when a visitor with a stored
        # choice opens the preferences; cached like the container.
        site = site_of(request)
        if site is None:
            return _unknown_site(request)
        snapshot = site.live.current
        # ?lang= is the language GET /consent answered in (the container passes it on); anything the
        # site does not offer gets the default language. The URL alone decides: no Vary needed.
        markup = snapshot.dialogs(shown_language(snapshot.config, request.query_params.get("lang")))
        etag = f'"{hashlib.sha256(markup.encode()).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*",
                   "Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff"}
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(markup, media_type="text/html; charset=utf-8", headers=headers)

    async def store_consent(request: Request) -> Response:
        site_now = site_of(request)
        if site_now is None:
            return _unknown_site(request)
        snapshot = site_now.live.current
        cors = _cors_headers(request, snapshot)
        if cors is None or request.headers.get("origin") is None:
            return _origin_refused(request, site_now.name)
        ip = client_ip(request, snapshot)
        limit = snapshot.config.site.consent_rate_limit
        if limit:
            wait = await site_now.limiter.check(client_key(ip), *limit)
            if wait:
                return error(429, "rate_limited", f"too many choices sent from this address; try again in {wait:.0f} s",
                             {**cors, **_EXPOSE_RETRY, "Retry-After": f"{wait:.0f}"})
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
        vendors_refused, vendor_problem = parse_refused(choice.vendors_refused, config, choice.categories)
        if vendor_problem:
            return error(400, "unknown_vendor" if vendor_problem.startswith("unknown") else "invalid_body", vendor_problem, cors)
        place = place_of(request, snapshot)
        # The language the dialogs were shown in, as GET /consent named it: the record holds its texts.
        language = shown_language(config, choice.language)
        token, consent = signer.issue(choice.categories, site.policy_version, offered=config.category_keys,
                                      rule=place.rule, gpc=choice.gpc or gpc_header(request), action=choice.action,
                                      site=site, vendors_refused=vendors_refused, vendors_offered=offered_vendors(config))
        decision = Decision(
            consent_id=consent.consent_id, decided_at=datetime.fromtimestamp(consent.timestamp, timezone.utc),
            action=consent.action, categories=consent.categories, offered=consent.offered, region=place.code,
            rule=place.rule, gpc=consent.gpc, policy_version=consent.policy_version,
            container_version=snapshot.container.etag.strip('"'),
            banner_texts=texts_shown(snapshot, place.rule, language), language=language, ip=ip,
            user_agent=request.headers.get("user-agent"), site=log_name(site_now.name, site),
            vendors_refused=consent.vendors_refused, vendors_offered=consent.vendors_offered)
        try:
            # Written before it is acknowledged: no token, no cookie, nothing fires without the record.
            await consent_log.record_async(decision)
        except LogUnavailable as exc:
            telemetry.LOG_FAILURES.inc()
            log.error("consent log unavailable, choice not stored: %s", exc)
            return error(503, "log_unavailable", "the choice could not be recorded; it will be asked again",
                         {**cors, **_EXPOSE_RETRY, "Retry-After": "5"})
        telemetry.DECISIONS.labels(consent.action).inc()
        response = answer({"token": token, "consent": consent.as_json()}, headers={**cors, "Cache-Control": "no-store"})
        secure = served_over_https(request, snapshot)
        response.set_cookie(site.cookie_name, token, max_age=site.consent_max_age_seconds, path=site_now.cookie_path,
                            domain=site.cookie_domain, secure=secure, httponly=False,
                            samesite="none" if secure and cors else "lax")
        return response

    async def collect(request: Request) -> Response:
        site = site_of(request)
        if site is None:
            return _unknown_site(request)
        return await forwarding.collect(request, site)

    def site_health(live: LiveConfig) -> dict[str, Any]:
        # Public: counts only. Problem texts quote config files and name paths (a symlinked
        # /etc/passwd once showed up here), so they go to the log and to the admin view.
        current, problems = live.current, live.last_error.problems if live.last_error else []
        body = {"status": "degraded" if problems else "ok", "tags": len(current.config.tags),
                "config_problems": len(problems), "container_etag": current.container.etag}
        if any(tag.server_side for tag in current.config.tags):
            # A count only: which tags, and which credential is missing, is for the admin view.
            body["tags_not_forwarding"] = len(forwarding.not_forwarding(current.config))
        return body

    def health_body() -> dict[str, Any]:
        if sites.default is not None:
            return site_health(sites.default)
        each = {name: site_health(site) for name, site in sites.sites.items()}
        problems = sum(h["config_problems"] for h in each.values())
        return {"status": "degraded" if problems else "ok", "tags": sum(h["tags"] for h in each.values()),
                "config_problems": problems, "sites": each}

    async def health(request: Request) -> Response:
        return answer(health_body(), headers={"Cache-Control": "no-store"})

    async def health_details(request: Request) -> Response:
        refused = admin_refusal(request, admin_token)
        if refused is not None:
            return refused
        def errors(live: LiveConfig) -> list[str]:
            return [str(p) for p in live.last_error.problems] if live.last_error else []

        body = health_body()
        if sites.default is not None:
            body.update(config_dir=str(sites.default.directory), config_errors=errors(sites.default))
            if "tags_not_forwarding" in body:
                body["not_forwarding"] = forwarding.not_forwarding(sites.default.current.config)
        else:
            body["config_dir"] = str(sites.root)
            for name, site in sites.sites.items():
                body["sites"][name].update(config_dir=str(site.directory), config_errors=errors(site))
                if "tags_not_forwarding" in body["sites"][name]:
                    body["sites"][name]["not_forwarding"] = forwarding.not_forwarding(site.current.config)
        return answer(body, headers={"Cache-Control": "no-store"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request) or (headers or {}).get("Allow", "")}
        return error(exc.status_code, "http_error", exc.detail, headers)

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
        Route("/ui.js", banner_script, methods=["GET", "HEAD"]),
        # Several sites from one config root (gateway/sites.py): the same endpoints per site.
        Route("/collect", collect, methods=["POST"]),  # server-side events (gateway/forwarding)
        Route("/collect", consent_preflight, methods=["OPTIONS"]),
        Route("/c/{site}.js", container, methods=["GET", "HEAD"]),
        Route("/c/{site}/collect", collect, methods=["POST"]),
        Route("/c/{site}/collect", consent_preflight, methods=["OPTIONS"]),
        Route("/c/{site}/consent", store_consent, methods=["POST"]),
        Route("/c/{site}/consent", read_consent, methods=["GET"], middleware=[GZIP]),
        Route("/c/{site}/consent", consent_preflight, methods=["OPTIONS"]),
        Route("/c/{site}/ui", dialogs, methods=["GET"], middleware=[GZIP]),
        Route("/c/{site}/ui.js", banner_script, methods=["GET", "HEAD"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/healthz/details", health_details, methods=["GET"]),
        *email.routes,  # the e-mail open pixel and its admin API (gateway/email_pixel.py)
        # The owner's preview panel: only for a valid preview token of the site (gateway/preview.py).
        *PreviewRoutes(secret, config_of).routes,
    ]
    if store_dir is not None:
        routes.append(Mount("/", StoreFiles(directory=store_dir, html=True), name="store"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        task = asyncio.create_task(sites.watch()) if watch else None
        forwarding.start()
        # What the first POSTs of this worker would open, opened beside serving: the database connections
        # (requests that come meanwhile wait for them, not for one each) and the rate limits' files.
        warming = [asyncio.create_task(log.warm_up()) for log in (consent_log, forwarding.outbox) if log is not None]
        warming += [asyncio.create_task(asyncio.to_thread(limiter.open)) for limiter in limiters]
        yield
        for warm in warming:
            warm.cancel()
        if task:
            task.cancel()
        await run_in_threadpool(forwarding.close)  # the send in flight is settled first
        email.close()
        for limiter in limiters:
            limiter.close()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(refuse_ambiguous_length)],
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.forwarding = forwarding
    return app


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
    language: str | None = None  # as the container sent it; shown_language() makes it an offered one
    vendors_refused: Any = None  # as sent; checked against the config by gateway.vendor_choice.parse_refused


def _parse_choice(raw: bytes, known: tuple[str, ...]) -> tuple[Choice | None, tuple[str, str] | None]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, ("invalid_json", f"the body is not valid JSON ({exc.__class__.__name__})")
    if not isinstance(body, dict) or "categories" not in body or not set(body) <= {"categories", "action", "gpc", "lang",
                                                                                           "vendors_refused"}:
        return None, ("invalid_body", 'expected {"categories": [...], "action"?: ..., "gpc"?: true|false, "lang"?: ..., '
                                      '"vendors_refused"?: [...]} and nothing else')
    if not isinstance(body.get("lang", ""), str):
        return None, ("invalid_body", "lang must be a language tag such as en or de")
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
    return Choice(tuple(c for c in known if c == "necessary" or c in chosen), action, body.get("gpc", False),
                  body.get("lang"), body.get("vendors_refused")), None


def shown_language(config, sent: str | None) -> str:
    """The offered language a request names (`de`, or `de-AT` for a site offering `de`), else the default:
    never the request's own text, which goes neither into a record nor into markup."""
    return i18n.pick(config.languages, [sent], config.language) if config.languages else config.language

"""POST /collect and everything behind it in one server process: the outbox, the delivery worker, health.

`create_app` makes one `ForwardingService` and routes /collect and /c/<site>/collect to `collect`. The
request is checked like POST /consent (origin, rate limit, body size, JSON), the event's permission is
decided by gateway.forwarding.decide from the visitor's token and the trusted region headers, and an
accepted event is committed to the outbox before the 202 goes out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.consent import ConsentSigner
from gateway.forwarding import adapters as adapter_registry, body as event_body, credentials
from gateway.forwarding.decide import DROP, RESTRICTED, decide
from gateway.forwarding.delivery import DeliveryWorker
from gateway.forwarding.event import ServerEvent
from gateway.forwarding.outbox import Accept, Drop, Outbox
from gateway.rate_limit import RateLimiter, client_key
from gateway.store import LogUnavailable
from gateway.vendor_choice import with_unseen_vendors

MAX_COLLECT_BODY = 8192  # bytes: a purchase with its items fits in 2-3 KB
TIMEOUT_ENV = "TAG_GATEWAY_FORWARD_TIMEOUT"  # seconds one vendor request may take (default 10)
CONSENT_HEADER = "X-Tag-Gateway-Consent"
PAGE_EVENTS = {"tiktok_pixel": "Pageview"}  # a tag that sends the vendor's page call names no event

log = logging.getLogger("tag_gateway")


def send_timeout() -> float:
    try:
        return min(max(float(os.environ.get(TIMEOUT_ENV, "10")), 0.5), 60.0)
    except ValueError:
        return 10.0


class ForwardingService:
    def __init__(self, consent_log: Any, signer: ConsentSigner, configs: Callable[[], dict[str, Any]],
                 adapters: Callable[[str], Any] | None = None):
        """`configs()`: every site's log name -> its current Config (the delivery worker reads the
        forwarding settings of a row's site when it sends)."""
        engine = getattr(consent_log, "engine", None)
        self.outbox = Outbox(engine) if engine is not None else None
        self.signer = signer
        self.adapters = adapters or adapter_registry.lookup
        self.configs = configs
        self.limiters: dict[Any, RateLimiter] = {}
        self.worker = None if self.outbox is None else DeliveryWorker(
            self.outbox, self._forwarding_of, adapters=self.adapters, timeout=send_timeout())

    def _forwarding_of(self, site: str):
        config = self.configs().get(site)
        return None if config is None else config.forwarding

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.outbox is not None:
            self.outbox.close()
        for limiter in self.limiters.values():
            limiter.close()

    # -- health ---------------------------------------------------------------------------------
    def not_forwarding(self, config) -> list[dict[str, str]]:
        """Server-side tags whose events cannot go out now, and why (for /healthz/details only)."""
        found = []
        for tag in config.tags:
            if not tag.server_side or not tag.enabled:
                continue
            if self.adapters(tag.kind) is None:
                found.append({"tag": tag.id, "reason": f"no adapter for {tag.kind}"})
            elif credentials.lookup(tag.kind, credentials.account_of(tag)) is None:
                found.append({"tag": tag.id, "reason": credentials.missing_text(tag.kind, credentials.account_of(tag))})
        return found

    # -- POST /collect --------------------------------------------------------------------------
    async def collect(self, request: Request, site_now) -> Response:
        from gateway import app as web  # the shared answers and checks of the consent endpoints
        from gateway.sites import log_name
        from gateway.visitor import client_ip, gpc_header, place_of

        snapshot = site_now.live.current
        cors = web._cors_headers(request, snapshot)
        if cors is None or request.headers.get("origin") is None:
            return web._origin_refused(request, site_now.name)
        config = snapshot.config
        ip = client_ip(request, snapshot)
        if config.forwarding.rate_limit:
            limiter = self.limiters.get(site_now.name) or self.limiters.setdefault(
                site_now.name, RateLimiter(_collect_path(site_now.limiter.path)))
            wait = await limiter.check(client_key(ip), *config.forwarding.rate_limit)
            if wait:
                return web.error(429, "rate_limited", f"too many events sent from this address; try again in "
                                 f"{wait:.0f} s", {**cors, "Retry-After": f"{wait:.0f}"})
        # text/plain too: navigator.sendBeacon can send no other type without a preflight.
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "text/plain"):
            return web.error(415, "unsupported_media_type", "send the event as application/json", cors)
        raw = await web._read_limited(request, MAX_COLLECT_BODY)
        if raw is None:
            return web.error(413, "body_too_large", f"the body must be at most {MAX_COLLECT_BODY} bytes", cors)
        try:
            occurrence = event_body.parse(raw)
        except event_body.BadBody as bad:
            return web.error(bad.status, bad.code, str(bad), cors)
        tag = next((t for t in config.tags if t.id == occurrence.tag), None)
        if tag is None:
            return web.error(404, "unknown_tag", "no tag of this site has that id", cors)
        if not tag.server_side or not tag.enabled:
            return web.error(422, "not_server_side", f"tag {tag.id} does not send events server-side "
                             "(server_side: also | only, and enabled)", cors)
        limit = config.forwarding.max_value
        if limit is not None and occurrence.value is not None and occurrence.value > limit:
            return web.error(422, "implausible_value", f"params.value is above forwarding.max_value ({limit:g})", cors)
        if self.outbox is None:
            return web.error(503, "outbox_unavailable", "this gateway has no outbox", cors)

        site_name = log_name(site_now.name, config.site)
        token = request.headers.get(CONSENT_HEADER) or request.cookies.get(config.site.cookie_name)
        reading = self.signer.read(token, policy_version=config.site.policy_version,
                                   known_categories=config.category_keys,
                                   max_age=config.site.acceptance_max_age_seconds,
                                   refusal_max_age=config.site.refusal_max_age_seconds,
                                   site=config.site, policy_since=snapshot.policy_since)
        place = place_of(request, snapshot)
        # As GET /consent answers the container: a vendor added since the choice was never shown to the
        # visitor, so it counts as refused (with vendor_choice) or holds back its category until they choose again.
        consent = reading.consent and with_unseen_vendors(reading.consent, config)[0]
        verdict = decide(category=tag.category, vendor=tag.kind, vendor_key=tag.vendor_key,
                         consent=consent, rule=place.rule, gpc=gpc_header(request),
                         sale_categories=config.sale_categories, opt_out_mode=config.forwarding.opt_out_mode)
        account = credentials.account_of(tag)
        reason = verdict.reason if verdict.outcome == DROP else (
            "no_adapter" if self.adapters(tag.kind) is None else
            "no_credential" if credentials.lookup(tag.kind, account) is None else "")
        headers = {**cors, "Cache-Control": "no-store"}
        try:
            if reason:
                await self.outbox.put(Drop(site_name, tag.kind, reason))
                return web.answer({"accepted": False, "reason": reason}, 202, headers)
            event = ServerEvent(
                event_id=occurrence.event_id, site=site_name, tag_id=tag.id, vendor=tag.kind, account_id=account,
                event_name=tag.compiled.get("event") or PAGE_EVENTS.get(tag.kind, "PageView"),
                event_time=occurrence.event_time, page_url=occurrence.page, referrer=occurrence.referrer,
                client_ip=ip or "", user_agent=request.headers.get("user-agent", "")[:512],
                cookies=occurrence.cookies, params=occurrence.params, user=occurrence.user,
                consent_id=consent.consent_id if consent else "",
                restricted=verdict.outcome == RESTRICTED, region=place.code or "")
            result = await self.outbox.put(Accept(event, site_name))
        except LogUnavailable as exc:
            log.error("outbox unavailable, event not accepted: %s", exc)
            return web.error(503, "outbox_unavailable", "the event could not be stored; send it again later",
                             {**cors, "Retry-After": "5"})
        if result == "duplicate":
            return web.answer({"duplicate": True, "event_id": event.event_id}, 200, headers)
        if self.worker is not None:
            self.worker.notify()
        return web.answer({"accepted": True, "event_id": event.event_id}, 202, headers)


def _collect_path(consent_path):
    return consent_path.with_name(consent_path.stem + "-collect" + consent_path.suffix)

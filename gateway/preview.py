"""The owner's preview: `gateway preview URL` prints a link, and the page it opens explains every tag.

The link is the store page with ``tg_preview=<token>``. The token is signed with the gateway's secret
(itsdangerous, rotation as in gateway/secret.py: signed with the newest, verified with any) under a
salt of its own, so neither a consent token nor an e-mail token ever passes as one; it carries the
site's claim (gateway.consent.site_claim: a preview of one store is not one of another served by the
same gateway) and its lifetime in minutes (at most MAX_MINUTES), and it expires.

The container only notices the parameter (consent_ui/runtime.js): it keeps the token in the tab's
sessionStorage, records a trace from its start (`tagGateway.trace()`) and loads
``<gateway>/preview.js?t=<token>`` (``/c/<site>/preview.js`` with several sites). The gateway answers
that script only for a valid, unexpired token of that site, with ``Cache-Control: no-store``: the
panel (consent_ui/preview.js, minified like the container) with what it needs to explain the trace
(tag ids, names, categories, trigger types, the firewall's rules). Anything else gets a ``403`` whose
body is a JavaScript comment: no code, nothing about the configuration, never a 500. Visitors never
load it; the container ships only the hook.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import js_minify
from gateway.config import Config
from gateway.consent import site_claim

log = logging.getLogger("tag_gateway")

_SALT = "tag-gateway.preview.v1"      # the signing context: never a consent or e-mail token's
DEFAULT_MINUTES = 60
MAX_MINUTES = 480
MAX_TOKEN = 512                       # longer query values are not ours: not even verified
PARAMETER = "tg_preview"
TOKEN = re.compile(r"[A-Za-z0-9_.-]+")  # what the container accepts from the URL
DATA_HOLE = "__tg_preview__"

SCRIPT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # Loaded by a <script> of the store's pages, often on another origin than the gateway.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}
REFUSED = b"/* tag-gateway: this preview link is invalid or has expired; run `gateway preview` again */\n"


@dataclass(frozen=True)
class Preview:
    expires: int  # Unix time


class PreviewTokens:
    """Mint and read preview tokens. `secret`: one, or several newest first (key rotation)."""

    def __init__(self, secret: str | Sequence[str]):
        keys = [secret] if isinstance(secret, str) else list(secret)
        # itsdangerous signs with the LAST key of its list and verifies with any of them.
        self._serializer = URLSafeTimedSerializer(keys[::-1], salt=_SALT)

    def issue(self, site, minutes: int = DEFAULT_MINUTES) -> str:
        """A token for `site` (a config Site) valid for `minutes` (1 to MAX_MINUTES)."""
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
            raise ValueError(f"minutes must be a whole number from 1 to {MAX_MINUTES}")
        return self._serializer.dumps({"s": site_claim(site), "m": minutes})

    def read(self, token: Any, site) -> Preview | None:
        """What a token allows for `site`, or None: forged, of another salt or site, expired, or garbage."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or not TOKEN.fullmatch(token):
            return None
        try:
            data, signed_at = self._serializer.loads(token, max_age=MAX_MINUTES * 60, return_timestamp=True)
        except (BadData, ValueError, TypeError, OverflowError):
            return None
        if not isinstance(data, dict) or data.get("s") != site_claim(site):
            return None
        minutes = data.get("m")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
            return None
        expires = int(signed_at.timestamp()) + minutes * 60
        if time.time() > expires:
            return None
        return Preview(expires)


def preview_link(url: str, token: str) -> str:
    """`url` with tg_preview=<token> in its query (replacing one already there), fragment kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != PARAMETER]
    query.append((PARAMETER, token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))


def trigger_text(trigger: dict[str, Any]) -> str:
    """What a trigger waits for, in words: `event "purchase"`, `page_view on paths /thank-you*`."""
    words = [str(trigger.get("type"))]
    for key, value in trigger.items():
        if key in ("type", "conditions", "unless"):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)
        words.append(shown if key == "event" else f"{key} {shown}")
    return " ".join(words)


def preview_data(config: Config, preview: Preview) -> dict[str, Any]:
    """What the panel needs to explain the trace: the enabled tags in the container's order."""
    from gateway.firewall import firewall_rules

    enabled = [tag for tag in config.tags if tag.enabled]
    tags = []
    for tag in enabled:
        entry: dict[str, Any] = {"id": tag.id, "name": tag.name, "category": tag.category, "kind": tag.kind,
                                 "trigger": tag.trigger.get("type"), "when": trigger_text(tag.trigger)}
        if tag.firing.get("delay"):
            entry["delay"] = tag.firing["delay"]
        if tag.setup:
            entry["setup"] = tag.setup
        tags.append(entry)
    return {"site": config.site.name, "expires": preview.expires, "tags": tags,
            "categories": {c.key: c.label for c in config.categories},
            # Every tag's hosts (even with the firewall off): which tag a request the page made belongs to.
            "fw": firewall_rules(config)}


def _source() -> str:
    return resources.files("consent_ui").joinpath("preview.js").read_text("utf-8")


def preview_script(config: Config, preview: Preview) -> bytes:
    from gateway.container import script_safe_json

    head, tail = js_minify.mangle_around(_source(), DATA_HOLE)  # cached on the source text
    return (head + script_safe_json(preview_data(config, preview)) + tail + ";\n").encode("utf-8")


def refused() -> Response:
    return Response(REFUSED, status_code=403, media_type="text/javascript; charset=utf-8", headers=SCRIPT_HEADERS)


class PreviewRoutes:
    """GET /preview.js and /c/<site>/preview.js, for create_app. `config_of(request)`: the requested
    site's live Config, or None for a site the gateway does not serve."""

    def __init__(self, secret: str | Sequence[str], config_of: Callable[[Request], Config | None]) -> None:
        self.tokens = PreviewTokens(secret)
        self.config_of = config_of
        self._broken_logged = False
        self.routes = [
            Route("/preview.js", self.script, methods=["GET"]),
            Route("/c/{site}/preview.js", self.script, methods=["GET"]),
        ]

    async def script(self, request: Request) -> Response:
        try:
            config = self.config_of(request)
            preview = None if config is None else self.tokens.read(request.query_params.get("t"), config.site)
            if preview is None:
                return refused()
            return Response(preview_script(config, preview), media_type="text/javascript; charset=utf-8",
                            headers=SCRIPT_HEADERS)
        except Exception:  # whatever happens, an owner's preview never costs a 500
            if not self._broken_logged:
                self._broken_logged = True
                log.exception("preview.js could not be served")
            return refused()


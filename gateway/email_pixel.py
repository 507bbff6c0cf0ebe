"""The e-mail open pixel: `GET /e/<campaign>.gif?t=<token>`, its signed tokens, and how opens are counted.

The store's mailer puts ``<img src="https://gateway/e/<campaign>.gif?t=<token>">`` into each e-mail.
The gateway mints the tokens (``POST /email/tokens``, ``gateway email token``), one per recipient:

* a token is signed with itsdangerous under the gateway's secret (``TAG_GATEWAY_SECRET``, rotation
  as in gateway/secret.py: signed with the newest, verified with any) and a salt of its own, so a
  consent token never passes as an e-mail token, nor the other way round, and an open cannot be forged;
* it carries the campaign, whether the recipient agreed to open tracking and, only when they did, a
  pseudonym of the recipient: the first 128 bits of an HMAC-SHA256 of the campaign and the mailer's
  recipient id under a key derived from the secret. Neither the address nor the id is in the token or
  in the database; the pseudonym differs per campaign, so campaigns cannot be joined on it. A mail to a
  recipient who did not agree carries no per-recipient identifier at all.

The pixel always answers the same 43-byte transparent GIF, whatever the token (missing, forged, of
another campaign, of a recipient who did not agree) and whether or not the database works, so a mail
client (or whoever reads the mail) cannot tell. An open counts only for a valid token of that
campaign whose recipient agreed. The request only adds it to an in-memory tally; a thread of the
worker writes the tally to the ``email_opens`` table (gateway/store/email_opens.py): reloads of one
mail collapse into one row's count before they reach the database, a slow or down database never
delays the GIF, and a failure is logged once until writes work again (those opens are lost).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from itsdangerous import BadData, URLSafeSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger("tag_gateway")

_SALT = "tag-gateway.email-open.v1"            # the signing context: never the consent token's
_PSEUDONYM_CONTEXT = b"tag-gateway.email-recipient.v1"
CAMPAIGN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PSEUDONYM = re.compile(r"[0-9a-f]{32}")
MAX_RECIPIENT_ID = 320                          # an e-mail address is at most 254
MAX_TOKEN = 512                                 # longer query values are not ours: not even verified
MAX_RECIPIENTS = 10_000                         # per POST /email/tokens
MAX_TOKENS_BODY = 2 * 1024 * 1024               # bytes
MAX_PENDING = 50_000                            # distinct (campaign, recipient) waiting for the writer

# A 1x1 GIF89a whose only pixel is transparent: a 2-colour table, a graphic control extension
# marking index 0 transparent, and the LZW codes clear, 0, end.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
       b"!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00"
       b"\x02\x02\x44\x01\x00;")
GIF_HEADERS = {
    "Cache-Control": "no-store, private",       # every open reaches the gateway; no proxy keeps it
    "X-Content-Type-Options": "nosniff",
    # Mail clients and webmail load it from their own origin: an image for anyone, unlike the JSON answers.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class EmailToken:
    campaign: str
    opens_allowed: bool
    recipient: str | None   # the pseudonym; None when the recipient did not agree


def valid_campaign(campaign: Any) -> bool:
    return isinstance(campaign, str) and CAMPAIGN.fullmatch(campaign) is not None


def pixel_path(campaign: str, token: str) -> str:
    return f"/e/{campaign}.gif?t={token}"


class EmailTokens:
    """Mint and read e-mail open tokens. `secret`: one, or several newest first (key rotation)."""

    def __init__(self, secret: str | Sequence[str]):
        keys = [secret] if isinstance(secret, str) else list(secret)
        # itsdangerous signs with the LAST key of its list and verifies with any of them.
        self._serializer = URLSafeSerializer(keys[::-1], salt=_SALT)
        # Pseudonyms come from the newest secret: tokens of one campaign minted on both sides of a
        # rotation name the same recipient differently (mint a campaign's tokens in one go).
        self._pseudonym_key = hmac.new(keys[0].encode(), _PSEUDONYM_CONTEXT, hashlib.sha256).digest()

    def pseudonym(self, campaign: str, recipient_id: str) -> str:
        message = f"{campaign}\n{recipient_id}".encode()
        return hmac.new(self._pseudonym_key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, campaign: str, recipient_id: str, opens_allowed: bool) -> tuple[str, str | None]:
        """The token for one recipient, and the pseudonym it carries (None when they did not agree)."""
        if not valid_campaign(campaign):
            raise ValueError(f"campaign must match {CAMPAIGN.pattern}")
        if not isinstance(recipient_id, str) or not recipient_id.strip() or len(recipient_id) > MAX_RECIPIENT_ID:
            raise ValueError(f"a recipient id is a non-empty string of at most {MAX_RECIPIENT_ID} characters")
        data: dict[str, Any] = {"c": campaign, "o": int(bool(opens_allowed))}
        pseudonym = self.pseudonym(campaign, recipient_id.strip()) if opens_allowed else None
        if pseudonym is not None:
            data["r"] = pseudonym
        return self._serializer.dumps(data), pseudonym

    def read(self, token: str | None) -> EmailToken | None:
        """What a token says, or None for anything the gateway did not sign with this salt."""
        if not token or len(token) > MAX_TOKEN:
            return None
        try:
            data = self._serializer.loads(token)
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not valid_campaign(data.get("c")) or data.get("o") not in (0, 1):
            return None
        recipient = data.get("r")
        if data["o"] == 1 and not (isinstance(recipient, str) and PSEUDONYM.fullmatch(recipient)):
            return None
        return EmailToken(data["c"], data["o"] == 1, recipient if data["o"] == 1 else None)

    def counts(self, campaign: str, token: str | None) -> str | None:
        """The pseudonym whose open counts for `campaign`'s pixel, or None: nothing is recorded."""
        read = self.read(token)
        if read is None or read.campaign != campaign or not read.opens_allowed:
            return None
        return read.recipient


class OpenRecorder:
    """Gathers opens in memory and writes them from a thread of its own; never raises to the caller.

    The request path only updates a dict under a lock. The thread starts at the first open in each
    process (a forked worker starts its own)."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self._lock = threading.Condition()
        self._pending: dict[tuple[str, str], list] = {}
        self._writing = False
        self._closed = False
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._failing = False
        self._lost = 0
        self._full_logged = False

    def add(self, campaign: str, recipient: str, now: datetime | None = None) -> None:
        moment = now or datetime.now(timezone.utc)
        with self._lock:
            if self._closed:
                return
            self._ensure_thread()
            seen = self._pending.get((campaign, recipient))
            if seen is not None:
                seen[0] += 1
                seen[2] = moment
            elif len(self._pending) < MAX_PENDING:
                self._pending[(campaign, recipient)] = [1, moment, moment]
            else:
                self._lost += 1
                if not self._full_logged:
                    self._full_logged = True
                    log.error("e-mail opens: %d recipients' opens are waiting for the database; further ones are "
                              "not counted until it catches up", MAX_PENDING)
            self._lock.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added so far was written (or failed); False on timeout."""
        with self._lock:
            self._lock.notify_all()
            return self._lock.wait_for(lambda: not self._pending and not self._writing, timeout)

    def close(self, timeout: float = 2.0) -> None:
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            if self._pid != os.getpid():  # a forked child: the parent's tally and thread are not ours
                self._pending, self._writing = {}, False
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="tag-gateway-email-opens", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        from gateway.store import email_opens
        from gateway.store.errors import LogUnavailable

        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return  # closed
                batch, self._pending = self._pending, {}
                self._writing = True
                self._full_logged = False
            opens = {key: email_opens.Opened(*seen) for key, seen in batch.items()}
            try:
                email_opens.record(self._engine, opens)
            except LogUnavailable as error:
                self._failed(sum(o.count for o in opens.values()), str(error))
            except Exception:  # a bug, not the database: say where, once per outage like the rest
                if not self._failing:
                    log.exception("e-mail opens not recorded")
                self._failed(sum(o.count for o in opens.values()), None)
            else:
                if self._failing:
                    log.warning("e-mail opens are recorded again; %d opens were lost meanwhile", self._lost)
                    self._failing, self._lost = False, 0
            finally:
                with self._lock:
                    self._writing = False
                    self._lock.notify_all()

    def _failed(self, count: int, message: str | None) -> None:
        self._lost += count
        if not self._failing and message is not None:
            log.error("e-mail opens not recorded (the pixel still answers; logged once until it works again): %s",
                      message)
        self._failing = True


class EmailPixel:
    """The pixel and its admin API, for create_app: `routes`, and `close()` at shutdown."""

    def __init__(self, secret: str | Sequence[str], consent_log: Any, admin_token: str | None) -> None:
        self.tokens = EmailTokens(secret)
        self.engine = getattr(consent_log, "engine", None)
        self.recorder = OpenRecorder(self.engine) if self.engine is not None else None
        self.admin_token = admin_token
        self._broken_logged = False
        self.routes = [
            # Any /e/....gif, even a path no token was minted for: the same GIF (only .gif: others are 404).
            Route("/e/{file:path}", self.pixel, methods=["GET"]),
            Route("/email/tokens", self.mint, methods=["POST"]),
            Route("/email/stats", self.stats, methods=["GET"]),
        ]

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    async def pixel(self, request: Request) -> Response:
        file = request.path_params["file"]
        if not file.endswith(".gif"):
            from gateway.app import error

            return error(404, "not_found", "the e-mail pixel is /e/<campaign>.gif?t=<token>")
        try:
            campaign = file[:-len(".gif")]
            recipient = self.tokens.counts(campaign, request.query_params.get("t"))
            # HEAD (link checkers, proxies probing) fetches no image: not an open.
            if recipient is not None and self.recorder is not None and request.method == "GET":
                self.recorder.add(campaign, recipient)
        except Exception:  # whatever happens, the mail client gets its GIF
            if not self._broken_logged:
                self._broken_logged = True
                log.exception("e-mail pixel: an open could not be counted")
        return Response(GIF, media_type="image/gif", headers=GIF_HEADERS)

    async def mint(self, request: Request) -> Response:
        from gateway.app import _read_limited, admin_refusal, answer, error

        refused = admin_refusal(request, self.admin_token, "the e-mail token API")
        if refused is not None:
            return refused
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return error(415, "unsupported_media_type", "send the recipients as application/json")
        raw = await _read_limited(request, MAX_TOKENS_BODY)
        if raw is None:
            return error(413, "body_too_large", f"the body must be at most {MAX_TOKENS_BODY} bytes")
        body, problem = _parse_mint(raw)
        if problem:
            return error(400, "invalid_body", problem)
        campaign, base_url = body["campaign"], body.get("base_url")
        minted, tracked = [], []
        for recipient in body["recipients"]:
            token, pseudonym = self.tokens.issue(campaign, recipient["id"], recipient["opens_allowed"])
            entry = {"id": recipient["id"], "opens_allowed": recipient["opens_allowed"], "token": token,
                     "path": pixel_path(campaign, token)}
            if base_url:
                entry["url"] = base_url + entry["path"]
            minted.append(entry)
            if pseudonym is not None:
                tracked.append(pseudonym)
        if tracked:
            if self.engine is None:
                return error(503, "log_unavailable", "the gateway has no database for e-mail opens")
            from gateway.store import email_opens
            from gateway.store.errors import LogUnavailable

            try:
                await run_in_threadpool(email_opens.register, self.engine, campaign, tracked)
            except LogUnavailable as exc:
                log.error("e-mail tokens not minted: %s", exc)
                return error(503, "log_unavailable", "the recipients could not be registered; try again",
                             {"Retry-After": "5"})
        return answer({"campaign": campaign, "tokens": minted}, headers={"Cache-Control": "no-store"})

    async def stats(self, request: Request) -> Response:
        from gateway.app import admin_refusal, answer, error

        refused = admin_refusal(request, self.admin_token, "the e-mail stats API")
        if refused is not None:
            return refused
        campaign = request.query_params.get("campaign")
        if campaign is not None and not valid_campaign(campaign):
            return error(400, "invalid_campaign", f"campaign must match {CAMPAIGN.pattern}")
        if self.engine is None:
            return error(503, "log_unavailable", "the gateway has no database for e-mail opens")
        from gateway.store import email_opens
        from gateway.store.errors import LogUnavailable

        try:
            found = await run_in_threadpool(email_opens.stats, self.engine, campaign)
        except LogUnavailable as exc:
            log.error("e-mail stats unavailable: %s", exc)
            return error(503, "log_unavailable", "the e-mail opens cannot be read now; try again",
                         {"Retry-After": "5"})
        return answer({"campaigns": [c.as_json() for c in found]}, headers={"Cache-Control": "no-store"})


def _parse_mint(raw: bytes) -> tuple[dict | None, str | None]:
    expected = ('expected {"campaign": "...", "recipients": [{"id": "...", "opens_allowed": true|false}, ...], '
                '"base_url"?: "https://..."}')
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, f"the body is not valid JSON ({exc.__class__.__name__})"
    if not isinstance(body, dict) or not {"campaign", "recipients"} <= set(body) \
            or not set(body) <= {"campaign", "recipients", "base_url"}:
        return None, expected
    if not valid_campaign(body["campaign"]):
        return None, f"campaign must match {CAMPAIGN.pattern} (it becomes the pixel's file name)"
    recipients = body["recipients"]
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= MAX_RECIPIENTS:
        return None, f"recipients must be a list of 1 to {MAX_RECIPIENTS} recipients"
    for position, recipient in enumerate(recipients):
        if not isinstance(recipient, dict) or set(recipient) != {"id", "opens_allowed"} \
                or not isinstance(recipient["opens_allowed"], bool):
            return None, f"recipients[{position}]: {expected}"
        rid = recipient["id"]
        if not isinstance(rid, str) or not rid.strip() or len(rid) > MAX_RECIPIENT_ID:
            return None, f"recipients[{position}].id must be a non-empty string of at most {MAX_RECIPIENT_ID} characters"
    base_url = body.get("base_url")
    if base_url is not None:
        if not isinstance(base_url, str) or not re.fullmatch(r"https?://[^\s/?#@\\]+(/[^\s?#\\]*)?", base_url) \
                or len(base_url) > 200:
            return None, "base_url must be the gateway's http(s) address, e.g. https://tags.shop.example"
        body["base_url"] = base_url.rstrip("/")
    return body, None

"""GA4 Measurement Protocol: POST www.google-analytics.com/mp/collect?measurement_id=G-...&api_secret=...

One event per request for the browser's GA4 client: `client_id` is the `_ga` cookie without its
"GA1.<n>." prefix, which is what gtag.js uses as the client id, so the server event joins the same
user. The parameters are those gtag.js got (adapter.js): page_location and page_referrer of the page
where the occurrence happened, then the tag's own parameters (value, currency, items, transaction_id, ...)
over them; the privacy transforms apply to the page fields whichever side gave them.

GA4 does not de-duplicate by event id (only purchases, by transaction_id), so the gateway must send a
GA4 event from one side only. The real /mp/collect answers 2xx to anything, malformed or not: payload
problems only show at /debug/mp/collect as `validationMessages`, which `read_answer` also understands.

The API secret is in the URL by the API's design: log `redacted_url(request.url)`, never the URL itself.
No user agent is sent (the protocol has no field for it); the IP goes as `ip_override` (geolocation only)
under the tag's ip transform. Ad consent: the gateway forwards a GA4 event because the visitor allowed
analytics, which says nothing about advertising, so ad_user_data and ad_personalization are DENIED.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from gateway.forwarding import privacy
from gateway.forwarding.event import Delivered, Failed, OutgoingRequest, Outcome, ServerEvent
from gateway.forwarding.privacy import Transforms
from gateway.forwarding.sender import Answer
from gateway.forwarding.vendors.answers import by_status, json_body, short

VENDOR = "ga4"
CREDENTIAL = "Measurement Protocol API secret"
USER_AGENT_REQUIRED = False
DEDUPLICATES_BY_EVENT_ID = False

API_ROOT = "https://www.google-analytics.com"
COLLECT_PATH = "/mp/collect"
DEBUG_PATH = "/debug/mp/collect"
GTAG_ONLY_PARAMS = ("send_to",)  # tells gtag.js which id to send to; meaningless (and not a param) here


def client_id(ga_cookie: str) -> str:
    """"GA1.1.1234567890.1700000000" -> "1234567890.1700000000"; "" when the cookie is not GA's."""
    parts = (ga_cookie or "").strip().split(".")
    if len(parts) != 4 or not parts[0].startswith("GA") or not parts[2].isdigit() or not parts[3].isdigit():
        return ""
    return f"{parts[2]}.{parts[3]}"


def collect_url(measurement_id: str, api_secret: str, base_url: str | None = None, debug: bool = False) -> str:
    query = urlencode({"measurement_id": measurement_id, "api_secret": api_secret})
    return f"{(base_url or API_ROOT).rstrip('/')}{DEBUG_PATH if debug else COLLECT_PATH}?{query}"


def build_request(event: ServerEvent, transforms: Transforms, credential: str,
                  base_url: str | None = None, debug: bool = False) -> OutgoingRequest:
    """Raises ValueError without a `_ga` client id: GA4 needs it, and inventing one would count a
    visitor who does not exist."""
    cid = client_id(event.cookies.get("_ga", ""))
    if not cid:
        raise ValueError("no GA client id: the event has no valid _ga cookie")
    body: dict[str, Any] = {
        "client_id": cid,
        "timestamp_micros": int(event.event_time) * 1_000_000,
        "consent": {"ad_user_data": "DENIED", "ad_personalization": "DENIED"},
        "events": [{"name": event.event_name, "params": event_params(event, transforms)}],
    }
    ip = privacy.client_ip(event.client_ip, transforms.ip)
    if ip:
        body["ip_override"] = ip
    return OutgoingRequest(
        method="POST",
        url=collect_url(event.account_id, credential, base_url, debug),
        headers={"Content-Type": "application/json"},
        body=json.dumps(body, separators=(",", ":")).encode("utf-8"),
    )


def event_params(event: ServerEvent, transforms: Transforms) -> dict[str, Any]:
    merged: dict[str, Any] = {"page_location": event.page_url, "page_referrer": event.referrer}
    merged.update({k: v for k, v in event.params.items() if k not in GTAG_ONLY_PARAMS})
    location = privacy.page_url(str(merged.pop("page_location") or ""), transforms.strip_query)
    ref = privacy.referrer(str(merged.pop("page_referrer") or ""), transforms.strip_referrer, transforms.strip_query)
    params: dict[str, Any] = {}
    if location:
        params["page_location"] = location
    if ref:
        params["page_referrer"] = ref
    params.update(merged)
    return params


def read_answer(answer: Answer) -> Outcome:
    decided = by_status(answer, "GA4")
    if decided is not None:
        return decided
    body = json_body(answer)
    messages = body.get("validationMessages") if isinstance(body, dict) else None
    if messages:
        described = "; ".join(f"{m.get('validationCode', '?')} {m.get('fieldPath', '')}: {m.get('description', '')}"
                              for m in messages if isinstance(m, dict))
        return Failed(short(f"GA4 validation: {described}"))
    return Delivered(f"GA4 answered {answer.status}")

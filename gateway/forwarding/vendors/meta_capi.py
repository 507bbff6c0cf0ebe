"""Meta Conversions API: one website event per request to POST graph.facebook.com/<version>/<pixel>/events.

The event mirrors what the Meta Pixel sent in the browser (adapter.js): the same event name, the same
event id (Meta de-duplicates a browser and a server event with equal event_name and event_id), and the
same custom data derived from GA4 e-commerce (value, currency, content_ids, contents, content_type,
num_items). Website events must carry client_user_agent and event_source_url, so the user agent is sent
as the browser gave it whatever the tag's `user_agent` transform says (USER_AGENT_REQUIRED: the gateway
should refuse `reduce` for this vendor). Limited Data Use mirrors the pixel: an event sent only because
of `after_opt_out: restricted` carries ["LDU"] with California's location (1, 1000) or 0, 0 to let Meta
geolocate; any other event an explicit empty list.

The access token travels in the JSON body (a documented way), never in the URL, so a logged URL holds
no credential.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.forwarding import privacy
from gateway.forwarding.event import Delivered, Failed, OutgoingRequest, Outcome, Retry, ServerEvent
from gateway.forwarding.privacy import Transforms
from gateway.forwarding.sender import Answer
from gateway.forwarding.vendors.answers import body_excerpt, json_body, retry_after, short

VENDOR = "meta_pixel"
CREDENTIAL = "Conversions API access token"
USER_AGENT_REQUIRED = True
DEDUPLICATES_BY_EVENT_ID = True

API_ROOT = "https://graph.facebook.com"
API_VERSION = "v24.0"
# Graph API throttling: 4 application, 17 user, 32 page-level, 613 "calls within one hour exceeded",
# 80004 ads-management business use case. All of them clear by themselves: retry later.
THROTTLING_CODES = frozenset({4, 17, 32, 613, 80004})
# 1 "unknown error" and 2 "service temporarily unavailable": Graph's own transient errors.
TRANSIENT_CODES = frozenset({1, 2})


def events_url(pixel_id: str, base_url: str | None = None) -> str:
    return f"{(base_url or API_ROOT).rstrip('/')}/{API_VERSION}/{pixel_id}/events"


def build_request(event: ServerEvent, transforms: Transforms, credential: str,
                  base_url: str | None = None) -> OutgoingRequest:
    body = {"data": [server_event(event, transforms)], "access_token": credential}
    return OutgoingRequest(
        method="POST",
        url=events_url(event.account_id, base_url),
        headers={"Content-Type": "application/json"},
        body=json.dumps(body, separators=(",", ":")).encode("utf-8"),
    )


def server_event(event: ServerEvent, transforms: Transforms) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_name": event.event_name,
        "event_time": int(event.event_time),
        "event_id": event.event_id,
        "action_source": "website",
        "event_source_url": privacy.page_url(event.page_url, transforms.strip_query),
        "user_data": user_data(event, transforms),
    }
    ref = privacy.referrer(event.referrer, transforms.strip_referrer, transforms.strip_query)
    if ref:
        data["referrer_url"] = ref
    custom = custom_data(event.params)
    if custom:
        data["custom_data"] = custom
    data.update(limited_data_use(event))
    return data


def user_data(event: ServerEvent, transforms: Transforms) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ip = privacy.client_ip(event.client_ip, transforms.ip)
    if ip:
        out["client_ip_address"] = ip
    if event.user_agent:
        out["client_user_agent"] = event.user_agent  # required for website events: never reduced
    for cookie, field in (("_fbp", "fbp"), ("_fbc", "fbc")):
        if event.cookies.get(cookie):
            out[field] = event.cookies[cookie]
    em = privacy.hashed_email(event.user.get("email"), transforms)
    if em:
        out["em"] = [em]
    ph = privacy.hashed_phone(event.user.get("phone"), VENDOR, transforms)
    if ph:
        out["ph"] = [ph]
    return out


def custom_data(params: dict[str, Any]) -> dict[str, Any]:
    """The pixel's custom data: GA4 `items` become content_ids/contents/content_type/num_items exactly as
    adapter.js does; the transaction id becomes order_id; any other parameter passes as given."""
    out = {k: v for k, v in params.items() if k not in ("items", "transaction_id")}
    items = [i for i in params.get("items") or [] if isinstance(i, dict)]
    if items:
        out.setdefault("content_ids", [i.get("item_id") for i in items])
        out.setdefault("contents", [_content(i) for i in items])
        out.setdefault("content_type", "product")
        out.setdefault("num_items", sum(_quantity(i) for i in items))
    if params.get("transaction_id"):
        out.setdefault("order_id", str(params["transaction_id"]))
    return out


def _quantity(item: dict[str, Any]) -> Any:
    return item.get("quantity") or 1


def _content(item: dict[str, Any]) -> dict[str, Any]:
    content = {"id": item.get("item_id"), "quantity": _quantity(item)}
    if item.get("price") is not None:
        content["item_price"] = item["price"]
    return content


def limited_data_use(event: ServerEvent) -> dict[str, Any]:
    if not event.restricted:
        return {"data_processing_options": []}
    california = event.region.upper() == "US-CA"
    return {"data_processing_options": ["LDU"],
            "data_processing_options_country": 1 if california else 0,
            "data_processing_options_state": 1000 if california else 0}


def read_answer(answer: Answer) -> Outcome:
    body = json_body(answer)
    if 200 <= answer.status < 300:
        if isinstance(body, dict) and "events_received" in body:
            return Delivered(f"events_received={body['events_received']} fbtrace_id={body.get('fbtrace_id', '')}")
        return Retry(f"Meta answered {answer.status} without events_received: {body_excerpt(answer)}")
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    text = _describe(answer.status, error) if error else f"Meta answered {answer.status}: {body_excerpt(answer)}"
    if answer.status == 429 or code in THROTTLING_CODES:
        return Retry(text, retry_after(answer.headers) or _usage_wait(answer.headers))
    if answer.status >= 500 or code in TRANSIENT_CODES or error.get("is_transient") is True:
        return Retry(text, retry_after(answer.headers))
    return Failed(text)


def _describe(status: int, error: dict[str, Any]) -> str:
    detail = error.get("error_user_msg") or ""
    message = error.get("message", "")
    parts = [f"Meta {status} code {error.get('code')}"
             + (f"/{error['error_subcode']}" if error.get("error_subcode") else "") + f": {message}"]
    if detail and detail not in message:
        parts.append(detail)
    if error.get("fbtrace_id"):
        parts.append(f"fbtrace_id {error['fbtrace_id']}")
    return short(" - ".join(parts))


def _usage_wait(headers: dict[str, str]) -> float | None:
    """Meta's own rate-limit signal: X-Business-Use-Case-Usage carries estimated_time_to_regain_access in
    minutes per business and use case; the longest wait wins."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [entry.get("estimated_time_to_regain_access") or 0
               for entries in (usage.values() if isinstance(usage, dict) else [])
               for entry in (entries if isinstance(entries, list) else []) if isinstance(entry, dict)]
    longest = max((m for m in minutes if isinstance(m, (int, float))), default=0)
    return float(longest) * 60 if longest > 0 else None

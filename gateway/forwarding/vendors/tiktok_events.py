"""TikTok Events API 2.0 (Business API v1.3): POST business-api.tiktok.com/open_api/v1.3/event/track/.

One web event per request, keyed to the pixel: `event_source: "web"`, `event_source_id` = the pixel
code. TikTok de-duplicates a pixel and a server event with the same event name and event_id, so the
id is the one the browser's ttq.track got. Properties mirror adapter.js: value, currency,
content_type "product" and contents (content_id, content_name, quantity, price) from GA4 items.

The answer is HTTP 200 for errors too: the JSON `code` says what happened. 0 is success; 40100 is
TikTok's "too many requests"; 5xxxx codes are TikTok-side failures; every other code (parameter errors
40002, token errors 40104/40105, ...) refuses the request as sent, so retrying cannot help.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.forwarding import privacy
from gateway.forwarding.event import Delivered, Failed, OutgoingRequest, Outcome, Retry, ServerEvent
from gateway.forwarding.privacy import Transforms
from gateway.forwarding.sender import Answer
from gateway.forwarding.vendors.answers import body_excerpt, by_status, json_body, retry_after, short

VENDOR = "tiktok_pixel"
CREDENTIAL = "Events API access token"
USER_AGENT_REQUIRED = False
DEDUPLICATES_BY_EVENT_ID = True

API_ROOT = "https://business-api.tiktok.com"
TRACK_PATH = "/open_api/v1.3/event/track/"
RATE_LIMITED = 40100


def track_url(base_url: str | None = None) -> str:
    return (base_url or API_ROOT).rstrip("/") + TRACK_PATH


def build_request(event: ServerEvent, transforms: Transforms, credential: str,
                  base_url: str | None = None) -> OutgoingRequest:
    body = {"event_source": "web", "event_source_id": event.account_id, "data": [web_event(event, transforms)]}
    return OutgoingRequest(
        method="POST",
        url=track_url(base_url),
        headers={"Content-Type": "application/json", "Access-Token": credential},
        body=json.dumps(body, separators=(",", ":")).encode("utf-8"),
    )


def web_event(event: ServerEvent, transforms: Transforms) -> dict[str, Any]:
    page = {"url": privacy.page_url(event.page_url, transforms.strip_query)}
    ref = privacy.referrer(event.referrer, transforms.strip_referrer, transforms.strip_query)
    if ref:
        page["referrer"] = ref
    data: dict[str, Any] = {
        "event": event.event_name,
        "event_time": int(event.event_time),
        "event_id": event.event_id,
        "user": user(event, transforms),
        "page": page,
    }
    properties = event_properties(event.params)
    if properties:
        data["properties"] = properties
    return data


def user(event: ServerEvent, transforms: Transforms) -> dict[str, Any]:
    out: dict[str, Any] = {}
    email = privacy.hashed_email(event.user.get("email"), transforms)
    if email:
        out["email"] = email
    phone = privacy.hashed_phone(event.user.get("phone"), VENDOR, transforms)
    if phone:
        out["phone"] = phone
    ip = privacy.client_ip(event.client_ip, transforms.ip)
    if ip:
        out["ip"] = ip
    ua = privacy.user_agent(event.user_agent, transforms.user_agent)
    if ua:
        out["user_agent"] = ua
    for cookie, field in (("_ttp", "ttp"), ("ttclid", "ttclid")):
        if event.cookies.get(cookie):
            out[field] = event.cookies[cookie]
    return out


def event_properties(params: dict[str, Any]) -> dict[str, Any]:
    """As adapter.js builds them from GA4 e-commerce; a transaction id becomes order_id."""
    out = {k: v for k, v in params.items() if k not in ("items", "transaction_id")}
    items = [i for i in params.get("items") or [] if isinstance(i, dict)]
    if items:
        out.setdefault("content_type", "product")
        out.setdefault("contents", [_content(i) for i in items])
    if params.get("transaction_id"):
        out.setdefault("order_id", str(params["transaction_id"]))
    return out


def _content(item: dict[str, Any]) -> dict[str, Any]:
    content = {"content_id": item.get("item_id"), "quantity": item.get("quantity") or 1}
    if item.get("item_name") is not None:
        content["content_name"] = item["item_name"]
    if item.get("price") is not None:
        content["price"] = item["price"]
    return content


def read_answer(answer: Answer) -> Outcome:
    body = json_body(answer)
    decided = by_status(answer, "TikTok")
    if decided is not None:
        return decided
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        return Retry(f"TikTok answered {answer.status} without a code: {body_excerpt(answer)}")
    code = body["code"]
    text = short(f"TikTok code {code}: {body.get('message', '')}"
                 + (f" (request_id {body['request_id']})" if body.get("request_id") else ""))
    if code == 0:
        return Delivered(f"request_id={body.get('request_id', '')}")
    if code == RATE_LIMITED:
        return Retry(text, retry_after(answer.headers))
    if 50000 <= code < 60000:
        return Retry(text, retry_after(answer.headers))
    return Failed(text)

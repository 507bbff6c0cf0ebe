"""POST /collect's body, checked field by field: anyone can post anything, outside any browser.

    {"tag": "meta-purchase", "event_id": "order-1042", "event_time": 1767225600,
     "page": "https://shop.example/thanks", "referrer": "", "params": {"value": 59.9, "currency": "EUR"},
     "user": {"email": "..."}, "cookies": {"_fbp": "fb.1...."}}

Only `tag` and `event_id` are required. Every refusal names the field; nothing of the value is echoed.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

FIELDS = {"tag", "event_id", "event_time", "page", "referrer", "params", "user", "cookies"}
EVENT_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
TAG_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
USER_KEYS = ("email", "phone")
MAX_URL = 2048
MAX_PARAMS = 50
MAX_COOKIES = 10
# Meta refuses events older than 7 days; a browser clock may be a little ahead.
MAX_AGE = 7 * 86400
MAX_AHEAD = 600


class BadBody(ValueError):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class Occurrence:
    tag: str
    event_id: str
    event_time: int
    page: str = ""
    referrer: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    user: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        return _number(self.params.get("value"))


def parse(raw: bytes, now: float | None = None) -> Occurrence:
    now = time.time() if now is None else now
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadBody("invalid_json", f"the body is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(body, dict):
        raise BadBody("invalid_body", "expected a JSON object {\"tag\": ..., \"event_id\": ..., ...}")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadBody("invalid_body", f"unknown fields {[u[:40] for u in unknown[:5]]}; known: {sorted(FIELDS)}")
    tag, event_id = body.get("tag"), body.get("event_id")
    if not isinstance(tag, str) or not TAG_ID.match(tag):
        raise BadBody("invalid_body", "tag must be the id of a tag in the configuration")
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        raise BadBody("invalid_body", "event_id must be 1-128 letters, digits or ._:@/+=-")
    event_time = body.get("event_time", int(now))
    if isinstance(event_time, bool) or not isinstance(event_time, (int, float)) or not math.isfinite(event_time):
        raise BadBody("invalid_body", "event_time must be Unix seconds")
    if not now - MAX_AGE <= event_time <= now + MAX_AHEAD:
        raise BadBody("implausible_time", "event_time must lie within the last 7 days", 422)
    page, referrer = _url(body, "page"), _url(body, "referrer")
    params = body.get("params", {})
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise BadBody("invalid_body", f"params must be an object of at most {MAX_PARAMS} values")
    value = params.get("value")
    if value is not None and (_number(value) is None or _number(value) < 0):
        raise BadBody("invalid_body", "params.value must be a number >= 0")
    return Occurrence(tag, event_id, int(event_time), page, referrer, params,
                      _strings(body, "user", USER_KEYS.__contains__, len(USER_KEYS), 320),
                      _strings(body, "cookies", COOKIE_NAME.match, MAX_COOKIES, 500))


def _url(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_URL or (value and not value.startswith(("https://", "http://"))):
        raise BadBody("invalid_body", f"{name} must be an http(s) URL of at most {MAX_URL} characters, or empty")
    return value


def _strings(body: dict, name: str, key_ok, most: int, longest: int) -> dict[str, str]:
    value = body.get(name, {})
    if not isinstance(value, dict) or len(value) > most or not all(
            isinstance(k, str) and key_ok(k) and isinstance(v, str) and len(v) <= longest for k, v in value.items()):
        raise BadBody("invalid_body", f"{name} must be an object of at most {most} short strings"
                                      + (f" ({', '.join(USER_KEYS)})" if name == "user" else ""))
    return dict(value)


def _number(value: Any) -> float | None:
    """A number, or a string holding one: placeholders from the page (data-price="59.90") resolve to text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and len(value) <= 32:
        try:
            value = float(value.strip())
        except ValueError:
            return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

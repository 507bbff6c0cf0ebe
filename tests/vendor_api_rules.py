"""What each vendor API refuses, as pure functions: the stand-ins' validation (tests/vendor_api_standins.py).

Each function takes what arrived and answers in the vendor's own shape: Meta's `{"error": {...}}` body
(sent with HTTP 400), TikTok's `{"code", "message", "request_id", "data"}` (sent with HTTP 200 even for
errors), GA4's validation server messages `{"fieldPath", "description", "validationCode"}`. The rules
are those the vendors document; docs/forwarding-vendors.md lists them and what is not confirmed.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

HEX64 = re.compile(r"^[0-9a-f]{64}$")
SEVEN_DAYS = 7 * 24 * 3600
FUTURE_SKEW = 60  # seconds of clock difference tolerated for an event_time "in the future"


# ------------------------------------------------------------------------------------------- Meta

META_ACTION_SOURCES = {"website", "email", "app", "phone_call", "chat", "physical_store",
                       "system_generated", "business_messaging", "other"}
META_CUSTOMER_PARAMS = {"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id",
                        "client_ip_address", "client_user_agent", "fbc", "fbp", "subscription_id",
                        "fb_login_id", "lead_id", "anon_id", "madid", "page_id", "page_scoped_user_id",
                        "ctwa_clid", "ig_account_id", "ig_sid"}
META_HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country")


def meta_error(message: str, code: int = 100, subcode: int | None = None, user_msg: str = "",
               transient: bool = False) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "is_transient": transient, "fbtrace_id": secrets.token_urlsafe(8)}
    if subcode:
        error["error_subcode"] = subcode  # the stand-in's own placeholder values: nothing depends on them
    if user_msg:
        error["error_user_title"] = "Invalid parameter"
        error["error_user_msg"] = user_msg
    return {"error": error}


def meta_problem(query: dict[str, str], body: Any, now: float, token: str | None) -> dict[str, Any] | None:
    """Meta's error answer for this request, None when Meta would accept it."""
    given = query.get("access_token") or (body.get("access_token") if isinstance(body, dict) else None)
    if not given:
        return meta_error("An access token is required to request this resource.", code=104)
    if token is not None and given != token:
        return meta_error("Invalid OAuth access token - Cannot parse access token", code=190)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data:
        return meta_error("(#100) The parameter data is required", subcode=2804001)
    if len(data) > 1000:
        return meta_error("(#100) data may hold at most 1000 events", subcode=2804002)
    for index, event in enumerate(data):
        problem = _meta_event_problem(event, now)
        if problem:
            return meta_error("(#100) Invalid parameter", subcode=2804003, user_msg=f"data[{index}]: {problem}")
    return None


def _meta_event_problem(event: Any, now: float) -> str:
    if not isinstance(event, dict):
        return "each event must be an object"
    for name in ("event_name", "event_time", "action_source"):
        if event.get(name) in (None, ""):
            return f"the parameter {name} is required"
    if not isinstance(event["event_time"], int) or isinstance(event["event_time"], bool):
        return "event_time must be a Unix timestamp in seconds"
    if event["event_time"] > now + FUTURE_SKEW:
        return "event_time is in the future"
    if event["event_time"] < now - SEVEN_DAYS:
        return "event_time is more than 7 days in the past"
    if event["action_source"] not in META_ACTION_SOURCES:
        return f"action_source {event['action_source']!r} is not valid"
    user = event.get("user_data")
    if not isinstance(user, dict) or not META_CUSTOMER_PARAMS & {k for k, v in user.items() if v}:
        return "user_data needs at least one customer information parameter"
    if event["action_source"] == "website":
        if not event.get("event_source_url"):
            return "website events require event_source_url"
        if not user.get("client_user_agent"):
            return "website events require user_data.client_user_agent"
    for name in META_HASHED:
        values = user.get(name)
        for value in (values if isinstance(values, list) else [values] if values is not None else []):
            if not isinstance(value, str) or not HEX64.match(value.lower()):
                return f"user_data.{name} must be a SHA-256 hash (64 hex digits)"
    options = event.get("data_processing_options")
    if options is not None and (not isinstance(options, list) or any(o != "LDU" for o in options)):
        return "data_processing_options must be [] or [\"LDU\"]"
    for name in ("data_processing_options_country", "data_processing_options_state"):
        if name in event and not isinstance(event[name], int):
            return f"{name} must be an integer"
    return ""


# ----------------------------------------------------------------------------------------- TikTok

TIKTOK_SOURCES = {"web", "app", "offline", "crm"}


def tiktok_answer(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": secrets.token_hex(10), "data": {}}


def tiktok_problem(headers: dict[str, str], body: Any, now: float, token: str | None) -> dict[str, Any] | None:
    given = headers.get("access-token", "")
    if not given:
        return tiktok_answer(40104, "Access token is null, please check your Access-Token header")
    if token is not None and given != token:
        return tiktok_answer(40105, "Access token is incorrect or has been revoked")
    if not isinstance(body, dict):
        return tiktok_answer(40002, "request body must be a JSON object")
    if body.get("event_source") not in TIKTOK_SOURCES:
        return tiktok_answer(40002, f"event_source: must be one of {', '.join(sorted(TIKTOK_SOURCES))}")
    if not body.get("event_source_id"):
        return tiktok_answer(40002, "event_source_id: required")
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return tiktok_answer(40002, "data: required, a non-empty list")
    if len(data) > 1000:
        return tiktok_answer(40002, "data: at most 1000 events")
    for index, event in enumerate(data):
        problem = _tiktok_event_problem(event, now)
        if problem:
            return tiktok_answer(40002, f"data[{index}].{problem}")
    return None


def _tiktok_event_problem(event: Any, now: float) -> str:
    if not isinstance(event, dict):
        return ": must be an object"
    for name in ("event", "event_time", "event_id"):
        if event.get(name) in (None, ""):
            return f"{name}: required"
    if not isinstance(event["event_time"], int) or isinstance(event["event_time"], bool):
        return "event_time: must be a Unix timestamp in seconds"
    if event["event_time"] > now + FUTURE_SKEW:
        return "event_time: in the future (seconds expected, not milliseconds)"
    user = event.get("user", {})
    if not isinstance(user, dict):
        return "user: must be an object"
    for name in ("email", "phone", "external_id"):
        if user.get(name) and not HEX64.match(str(user[name]).lower()):
            return f"user.{name}: must be SHA-256 hashed"
    if "page" in event and not isinstance(event["page"], dict):
        return "page: must be an object"
    return ""


# -------------------------------------------------------------------------------------------- GA4

GA4_RESERVED_EVENTS = {
    "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward", "adunit_exposure",
    "app_background", "app_clear_data", "app_exception", "app_remove", "app_store_refund",
    "app_store_subscription_cancel", "app_store_subscription_convert", "app_store_subscription_renew",
    "app_update", "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update", "dynamic_link_first_open",
    "error", "first_open", "first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground",
    "notification_open", "notification_receive", "os_update", "session_start", "session_start_with_rollout",
    "user_engagement"}
GA4_RESERVED_EVENT_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
GA4_RESERVED_PARAM_PREFIXES = ("_", "firebase_", "ga_", "google_")
GA4_RESERVED_USER_PROPERTIES = {"first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id",
                                "first_open_after_install"}
GA4_LONG_VALUES = {"page_location": 1000, "page_referrer": 420, "page_title": 300}
GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_EVENTS = MAX_PARAMS = MAX_USER_PROPERTIES = 25


def _message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def ga4_problems(query: dict[str, str], body: Any) -> list[dict[str, str]]:
    """The validation server's messages for this request ([] = valid). It does not check api_secret."""
    out: list[dict[str, str]] = []
    if not query.get("measurement_id"):
        out.append(_message("measurement_id", "Measurement ID is required.", "VALUE_REQUIRED"))
    if not isinstance(body, dict):
        return out + [_message("", "Unable to parse the request body as JSON.", "VALUE_INVALID")]
    if not isinstance(body.get("client_id"), str) or not body["client_id"]:
        out.append(_message("client_id", "Measurement requires a client_id.", "VALUE_REQUIRED"))
    consent = body.get("consent", {})
    for key, value in (consent.items() if isinstance(consent, dict) else []):
        if value not in ("GRANTED", "DENIED"):
            out.append(_message(f"consent.{key}", f"Consent value [{value}] must be GRANTED or DENIED.",
                                "VALUE_INVALID"))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        return out + [_message("events", "Measurement requires at least one event.", "VALUE_REQUIRED")]
    if len(events) > MAX_EVENTS:
        out.append(_message("events", f"A request may hold at most {MAX_EVENTS} events.", "EXCEEDED_MAX_ENTITIES"))
    for index, event in enumerate(events):
        out += _ga4_event_problems(index, event)
    props = body.get("user_properties", {})
    if isinstance(props, dict):
        if len(props) > MAX_USER_PROPERTIES:
            out.append(_message("user_properties", "Too many user properties.", "EXCEEDED_MAX_ENTITIES"))
        for name in props:
            if name in GA4_RESERVED_USER_PROPERTIES or name.startswith(GA4_RESERVED_PARAM_PREFIXES):
                out.append(_message("user_properties", f"User property name [{name}] is reserved.", "NAME_RESERVED"))
            elif len(name) > 24 or not GA4_NAME.match(name):
                out.append(_message("user_properties", f"User property name [{name}] is invalid.", "NAME_INVALID"))
    return out


def _ga4_event_problems(index: int, event: Any) -> list[dict[str, str]]:
    where = f"events[{index}]"
    if not isinstance(event, dict) or not isinstance(event.get("name"), str) or not event["name"]:
        return [_message(f"{where}.name", f"Event at index: [{index}] requires a name.", "VALUE_REQUIRED")]
    name, out = event["name"], []
    if len(name) > 40:
        out.append(_message(f"{where}.name", f"Event at index: [{index}] has name [{name}] longer than 40 characters.",
                            "VALUE_OUT_OF_BOUNDS"))
    if name in GA4_RESERVED_EVENTS or name.startswith(GA4_RESERVED_EVENT_PREFIXES):
        out.append(_message(f"{where}.name", f"Event at index: [{index}] has reserved name [{name}].", "NAME_RESERVED"))
    elif not GA4_NAME.match(name):
        out.append(_message(f"{where}.name", f"Event at index: [{index}] has invalid name [{name}]. Names must start "
                            "with an alphabetic character and hold only letters, digits and underscores.",
                            "NAME_INVALID"))
    params = event.get("params", {})
    if not isinstance(params, dict):
        return out + [_message(f"{where}.params", "params must be an object.", "VALUE_INVALID")]
    if len(params) > MAX_PARAMS:
        out.append(_message(f"{where}.params", f"Event at index: [{index}] has more than {MAX_PARAMS} params.",
                            "EXCEEDED_MAX_ENTITIES"))
    for key, value in params.items():
        if len(key) > 40:
            out.append(_message(f"{where}.params", f"Param [{key}] is longer than 40 characters.", "VALUE_OUT_OF_BOUNDS"))
        if key.startswith(GA4_RESERVED_PARAM_PREFIXES):
            out.append(_message(f"{where}.params", f"Param [{key}] has a reserved name.", "NAME_RESERVED"))
        elif not GA4_NAME.match(key):
            out.append(_message(f"{where}.params", f"Param [{key}] has an invalid name.", "NAME_INVALID"))
        if isinstance(value, str) and len(value) > GA4_LONG_VALUES.get(key, 100):
            out.append(_message(f"{where}.params.{key}", f"Value of param [{key}] is too long.", "VALUE_OUT_OF_BOUNDS"))
    return out

"""Local stand-ins for the vendor APIs the gateway forwards to, for unit and e2e tests (no pytest here).

One ThreadingHTTPServer on 127.0.0.1 serves all three at their real paths, so an adapter's base_url
points at `standins.base_url`:

- Meta Conversions API   POST /v<NN>.0/<pixel id>/events
- TikTok Events API      POST /open_api/v1.3/event/track/
- GA4 Measurement Prot.  POST /mp/collect (204 to anything, like the real one) and /debug/mp/collect

Each validates the payload the way its documentation says the real API does (see the `*_problems`
functions and docs/forwarding-vendors.md) and answers in the vendor's own shape: Meta 400 with
{"error": {...}}, TikTok HTTP 200 with a non-zero `code`, GA4's debug endpoint {"validationMessages"}.
GA4's /mp/collect never refuses, so every request it receives is also checked by the debug rules and
the messages kept on the recorded request (`Received.validation`): a test asserts it is empty.

Controls: `requests(vendor)` (everything received, failed or not), `fail_next(vendor, n, status,
retry_after, body)`, `slow(vendor, seconds)`, `down()` / `up()` (the listening socket really closes:
connection refused), and `distinct_events(vendor)`: events accepted, de-duplicated by (account,
event_id) for Meta and TikTok as those vendors do, counted one by one for GA4, which does not.
Vendors are named as the adapters' VENDOR: "meta_pixel", "tiktok_pixel", "ga4".
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

META, TIKTOK, GA4 = "meta_pixel", "tiktok_pixel", "ga4"
VENDORS = (META, TIKTOK, GA4)
META_PATH = re.compile(r"^/v\d+\.\d+/(\d+)/events$")
TIKTOK_PATH = "/open_api/v1.3/event/track/"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
SEVEN_DAYS = 7 * 24 * 3600
FUTURE_SKEW = 60  # seconds of clock difference tolerated for an event_time "in the future"


@dataclass
class Received:
    vendor: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]   # lower-cased names
    body: Any                 # parsed JSON, None when the body was not JSON
    status: int = 0           # what the stand-in answered
    validation: list[dict[str, str]] = field(default_factory=list)  # GA4: the debug rules' messages


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


# ----------------------------------------------------------------------------------------- server

@dataclass
class _Failure:
    status: int
    retry_after: str | None
    body: Any


class VendorAPIStandIns:
    """Start with `with VendorAPIStandIns() as apis:` (or start()/stop()); point adapters at apis.base_url.

    `tokens` optionally maps a vendor to the one credential it accepts (any non-empty one otherwise);
    `clock` is what "now" means for event_time checks."""

    def __init__(self, tokens: dict[str, str] | None = None, clock: Callable[[], float] = time.time):
        self.tokens = dict(tokens or {})
        self.clock = clock
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle
    def start(self) -> "VendorAPIStandIns":
        self._listen(self.port)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def down(self) -> None:
        """Close the listening socket: connections are refused until up()."""
        self.stop()

    def up(self) -> None:
        if self._server is None:
            self._listen(self.port)

    def __enter__(self) -> "VendorAPIStandIns":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a slow answer still sleeping must not hold up stop()
        server.standins = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        # A short poll so stop()/down() return at once (serve_forever checks for shutdown every poll).
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="vendor-api-standins", daemon=True)
        self._thread.start()

    # -- controls and observations
    def reset(self) -> None:
        with self._lock:
            self._received: dict[str, list[Received]] = {v: [] for v in VENDORS}
            self._failures: dict[str, list[_Failure]] = {v: [] for v in VENDORS}
            self._delay: dict[str, float] = {v: 0.0 for v in VENDORS}
            self._accepted: dict[str, list[tuple[str, str]]] = {v: [] for v in VENDORS}

    def fail_next(self, vendor: str, n: int = 1, status: int = 500, retry_after: int | str | None = None,
                  body: Any = None) -> None:
        """Answer the next `n` requests for `vendor` with `status` (and Retry-After, and `body`: a dict is
        sent as JSON; None = the vendor's own error shape for that status) instead of processing them."""
        self._check(vendor)
        with self._lock:
            self._failures[vendor] += [_Failure(status, None if retry_after is None else str(retry_after), body)] * n

    def slow(self, vendor: str, seconds: float) -> None:
        self._check(vendor)
        with self._lock:
            self._delay[vendor] = seconds

    def requests(self, vendor: str) -> list[Received]:
        self._check(vendor)
        with self._lock:
            return list(self._received[vendor])

    def distinct_events(self, vendor: str) -> int:
        """Events accepted; Meta and TikTok count an (account, event_id) once, GA4 counts every event."""
        self._check(vendor)
        with self._lock:
            accepted = self._accepted[vendor]
            return len(accepted) if vendor == GA4 else len(set(accepted))

    @staticmethod
    def _check(vendor: str) -> None:
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; one of {', '.join(VENDORS)}")

    # -- request handling (called from the handler thread)
    def _answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        vendor, account = _route(parts.path)
        if vendor is None:
            return 404, {}, b'{"error": "no such endpoint on the vendor stand-ins"}'
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        record = Received(vendor, method, parts.path, query, headers, body)
        with self._lock:
            self._received[vendor].append(record)
            failure = self._failures[vendor].pop(0) if self._failures[vendor] else None
            delay = self._delay[vendor]
        if delay:
            time.sleep(delay)
        if failure is not None:
            status, extra, payload = self._failure_answer(vendor, failure)
        elif method != "POST":
            status, extra, payload = 405, {}, b""
        else:
            status, extra, payload = self._process(vendor, account, parts.path, query, headers, body, record)
        record.status = status
        return status, extra, payload

    def _failure_answer(self, vendor: str, failure: _Failure) -> tuple[int, dict[str, str], bytes]:
        body = failure.body
        if body is None:
            body = _default_failure_body(vendor, failure.status)
        payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body != "" else b""
        extra = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        return failure.status, extra, payload

    def _process(self, vendor: str, account: str, path: str, query: dict[str, str], headers: dict[str, str],
                 body: Any, record: Received) -> tuple[int, dict[str, str], bytes]:
        now = self.clock()
        if vendor == META:
            problem = meta_problem(query, body, now, self.tokens.get(META))
            if problem:
                return 400, {}, json.dumps(problem).encode()
            self._accept(META, [(account, str(e.get("event_id", ""))) for e in body["data"]])
            answer = {"events_received": len(body["data"]), "messages": [], "fbtrace_id": secrets.token_urlsafe(8)}
            return 200, {}, json.dumps(answer).encode()
        if vendor == TIKTOK:
            problem = tiktok_problem(headers, body, now, self.tokens.get(TIKTOK))
            if problem:
                return 200, {}, json.dumps(problem).encode()
            self._accept(TIKTOK, [(str(body["event_source_id"]), str(e["event_id"])) for e in body["data"]])
            return 200, {}, json.dumps(tiktok_answer(0, "OK")).encode()
        record.validation = ga4_problems(query, body)
        if path.startswith("/debug/"):
            return 200, {}, json.dumps({"validationMessages": record.validation}).encode()
        if not record.validation:
            # The real endpoint silently drops what it cannot use; only valid events count.
            self._accept(GA4, [(query.get("measurement_id", ""), "") for _ in body["events"]])
        return 204, {}, b""

    def _accept(self, vendor: str, keys: list[tuple[str, str]]) -> None:
        with self._lock:
            self._accepted[vendor] += keys


def _route(path: str) -> tuple[str | None, str]:
    match = META_PATH.match(path)
    if match:
        return META, match.group(1)
    if path == TIKTOK_PATH:
        return TIKTOK, ""
    if path in ("/mp/collect", "/debug/mp/collect"):
        return GA4, ""
    return None, ""


def _default_failure_body(vendor: str, status: int) -> Any:
    if vendor == META:
        if status == 429:
            return meta_error("(#4) Application request limit reached", code=4, transient=True)
        if status >= 500:
            return meta_error("An unexpected error has occurred. Please retry your request later.", code=2,
                              transient=True)
        return meta_error("(#100) Invalid parameter", subcode=2804003, user_msg="refused by fail_next")
    if vendor == TIKTOK:
        if status == 429:
            return tiktok_answer(40100, "Too many requests. Please retry in some time.")
        if status >= 500:
            return tiktok_answer(50000, "System error. Please retry.")
        return tiktok_answer(40002, "refused by fail_next")
    return ""  # GA4 answers errors without a body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.server.standins._answer(self.command, self.path, headers, raw)  # type: ignore[attr-defined]
        try:
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (a test's short timeout): nothing to tell it any more
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

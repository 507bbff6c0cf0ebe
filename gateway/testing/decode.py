"""What a vendor's server would receive, decoded: recorded requests, vendor hits and normalised events.

A :class:`RecordedRequest` is one request that tried to leave the page (query string, form, multipart or
JSON body, `sendBeacon` payloads included). A :class:`Hit` is one vendor event inside it (a batched GA4
POST holds several). :func:`decode` turns hits into :class:`Event` rows that read the same for every
vendor: vendor kind, account id, event name and parameters (value/currency/transaction_id/items...,
numbers as floats), consent signals, the page it came from and when.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, urlsplit


def first_values(query: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in query.items()}


def parse_form(text: str) -> dict[str, str]:
    return first_values(parse_qs(text, keep_blank_values=True))


def decode_multipart(body: bytes, content_type: str) -> dict[str, str]:
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_content() if part.get_content_type().startswith("text/") else ""
    return fields


@dataclass
class RecordedRequest:
    """One request that tried to leave the page, as the vendor's server would have received it."""

    method: str
    url: str
    resource_type: str
    body: bytes | None = None
    content_type: str = ""
    time: float = field(default_factory=time.monotonic)  # time.monotonic() when it was intercepted
    host: str = field(init=False)
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.host = parts.hostname or ""
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)

    @property
    def post_data(self) -> str | None:
        """The body as text (sendBeacon Blobs included), or None without a body."""
        return None if self.body is None else self.body.decode("utf-8", "replace")

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, first value of each, percent-decoded."""
        return first_values(self.query)

    def form(self) -> dict[str, str]:
        """The body's fields for a form-encoded (or multipart) body; {} otherwise."""
        text = self.post_data or ""
        if "multipart/form-data" in self.content_type.lower():
            return decode_multipart(self.body or b"", self.content_type)
        if not text or text.lstrip().startswith(("{", "[")):
            return {}
        return parse_form(text)

    def json(self):
        """The body parsed as JSON (also when sent as text/plain, as beacons are)."""
        return json.loads(self.post_data or "null")

    def body_lines(self) -> list[str]:
        return [line for line in (self.post_data or "").split("\n") if line.strip()]

    def __repr__(self) -> str:  # short form for assertion messages
        body = f" body={self.post_data[:300]!r}" if self.post_data else ""
        return f"<{self.method} {self.url}{body}>"


class Hit:
    """One vendor event decoded from a request: a GA4 batch holds several, a pixel GET one.

    `params` merges what the vendor would read for that event: the query string (a GA4 batch's shared
    parameters) and the event's own fields (its body line, form field or JSON). The raw request is
    `request`; url/host/path/query/method/time/resource_type are its own.
    """

    def __init__(self, request: RecordedRequest, params: dict[str, str], data=None, index: int = 0):
        self.request = request
        self.params = params
        self.data = data  # the decoded JSON body, for JSON beacons
        self.index = index  # position of the event in its request's batch

    def __getattr__(self, name):
        if name in ("url", "host", "path", "query", "method", "time", "resource_type", "body", "post_data", "content_type"):
            return getattr(self.request, name)
        raise AttributeError(name)

    @property
    def event(self) -> str | None:
        if isinstance(self.data, dict):
            return self.data.get("event")
        return (self.params.get("en") or self.params.get("ev") or self.params.get("event")
                or self.params.get("label"))

    def json(self):
        return self.data

    def __eq__(self, other):
        if isinstance(other, Hit):
            return self.request is other.request and self.index == other.index
        return NotImplemented

    def __repr__(self) -> str:
        suffix = f" #{self.index}" if self.index else ""
        return f"<hit {self.event!r}{suffix} of {self.request!r}>"


# ----------------------------------------------------------------------------------- normalised events

GA4_HOST_SUFFIX = "google-analytics.com"
# Parameters that tell how a request was consented (Consent Mode, Meta LDU, restricted data processing).
CONSENT_SIGNALS = ("gcs", "gcd", "npa", "rdp", "dpo", "dpoco", "dpost")


def number(value: Any) -> Any:
    """'59.9' -> 59.9, 5 -> 5.0; anything that is not a number is returned unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


@dataclass
class Event:
    """One vendor event, the same shape for every vendor.

    `vendor` is the tag kind that sends such events (ga4, google_ads, meta_pixel, tiktok_pixel, pinterest,
    snap_pixel, microsoft_uet, linkedin_insight, reddit_pixel, x_pixel); `account` the measurement id / pixel id / pixel code / AW- conversion id / tag id; `params`
    the event's own parameters with vendor prefixes removed (GA4 `ep.`/`epn.`, Meta `cd[...]`, TikTok
    `properties`, Pinterest `ed`, Snap `e_`) and common names (value, currency, transaction_id, event_id,
    items); `signals` the consent parameters.
    `tag_id` is filled in by the recorder from the configuration (None: no tag sends this).
    """

    vendor: str
    account: str
    event: str
    params: dict[str, Any]
    hit: "Hit"
    label: str | None = None  # Google Ads conversion label
    automatic: bool = False   # sent by the vendor library on its own (TikTok Metadata/Click)
    signals: dict[str, str] = field(default_factory=dict)
    tag_id: str | None = None
    # Several tags could have sent it (same vendor, account and event; neither their fixed params nor
    # their paths tell them apart): their ids; tag_id is the first of them (gateway/testing/tags.py).
    candidates: tuple[str, ...] = ()

    @property
    def page(self) -> str:
        params = self.hit.params
        data = self.hit.data if isinstance(self.hit.data, dict) else {}
        return (params.get("dl") or params.get("url") or params.get("m_pl") or params.get("p") or
                params.get("tw_document_href") or _json_param(params, "ad").get("loc") or
                ((data.get("context") or {}).get("page") or {}).get("url") or "")

    @property
    def time(self) -> float:
        return self.hit.request.time

    def key_params(self) -> str:
        shown = [f"{k}={self.params[k]!r}" for k in ("value", "currency", "transaction_id", "event_id")
                 if self.params.get(k) not in (None, "")]
        if self.label:
            shown.insert(0, f"label={self.label}")
        return " ".join(shown)


def _ga4_event(hit: Hit) -> Event:
    params: dict[str, Any] = {}
    for key, value in hit.params.items():
        if key.startswith("epn."):
            params[key[4:]] = number(value)
        elif key.startswith("ep."):
            params[key[3:]] = value
        elif key.startswith("pr") and key[2:].isdigit():
            params.setdefault("items", []).append(value)
    if "cu" in hit.params:
        params["currency"] = hit.params["cu"]
    return Event("ga4", hit.params.get("tid", ""), hit.params.get("en", ""), params, hit,
                 signals={k: hit.params[k] for k in CONSENT_SIGNALS if k in hit.params})


def _meta_event(hit: Hit) -> Event:
    params: dict[str, Any] = {}
    for key, value in hit.params.items():
        if key.startswith("cd[") and key.endswith("]"):
            name = key[3:-1]
            if name == "content_ids":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[name] = number(value) if name == "value" else value
    if hit.params.get("eid"):
        params["event_id"] = hit.params["eid"]
    return Event("meta_pixel", hit.params.get("id", ""), hit.params.get("ev", ""), params, hit,
                 signals={k: hit.params[k] for k in CONSENT_SIGNALS if k in hit.params})


def _tiktok_event(hit: Hit, automatic: bool) -> Event:
    data = hit.data if isinstance(hit.data, dict) else {}
    params = {k: (number(v) if k == "value" else v) for k, v in (data.get("properties") or {}).items()}
    if data.get("event_id"):
        params["event_id"] = data["event_id"]
    code = ((data.get("context") or {}).get("pixel") or {}).get("code", "")
    return Event("tiktok_pixel", code, data.get("event", ""), params, hit, automatic=automatic)


def _ads_event(hit: Hit, conversion: bool) -> Event:
    account = "AW-" + hit.path.rstrip("/").rsplit("/", 1)[-1]
    signals = {k: hit.params[k] for k in CONSENT_SIGNALS if k in hit.params}
    if conversion:
        params: dict[str, Any] = {}
        if "value" in hit.params:
            params["value"] = number(hit.params["value"])
        if "currency_code" in hit.params:
            params["currency"] = hit.params["currency_code"]
        if "oid" in hit.params:
            params["transaction_id"] = hit.params["oid"]
        return Event("google_ads", account, "conversion", params, hit, label=hit.params.get("label"), signals=signals)
    data = dict(part.split("=", 1) for part in hit.params.get("data", "").split(";") if "=" in part)
    name = data.pop("event", "")
    params = {("currency" if k == "currency_code" else k): (number(v) if k == "value" else v) for k, v in data.items()}
    return Event("google_ads", account, name, params, hit, signals=signals)


def _json_param(params: dict[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(params.get(key) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pinterest_event(hit: Hit) -> Event:
    """ct.pinterest.com/v3/?event=checkout&tid=...&ed={JSON event data}&ad={JSON page data}: `init` is
    what core.js sends by itself on pintrk('load')."""
    data = _json_param(hit.params, "ed")
    params: dict[str, Any] = {k: (number(v) if k == "value" else v) for k, v in data.items()}
    if "order_id" in data:
        params["transaction_id"] = data["order_id"]
    if "line_items" in data:
        params["items"] = data["line_items"]
    event = hit.params.get("event", "")
    return Event("pinterest", hit.params.get("tid", ""), event, params, hit, automatic=event == "init")


_SNAP_FIELDS = {"e_pr": "value", "e_cur": "currency", "e_tid": "transaction_id", "e_iids": "items",
                "e_ni": "number_items", "cdid": "event_id"}


def _snap_event(hit: Hit) -> Event:
    """tr.snapchat.com/p, a form: pid, ev and the event's e_* fields (see gateway/testing/stubs/scevent.js)."""
    params: dict[str, Any] = {}
    for key, value in hit.params.items():
        name = _SNAP_FIELDS.get(key)
        if name == "items":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if name:
            params[name] = number(value) if name in ("value", "number_items") else value
    return Event("snap_pixel", hit.params.get("pid", ""), hit.params.get("ev", ""), params, hit)


def _uet_event(hit: Hit) -> Event:
    """bat.bing.com/action/0?ti=...&evt=pageLoad|custom&ea=<action>&gv=<revenue>&gc=<currency>&asc=G|D
    (see gateway/testing/stubs/uet_bat.js); `asc` is UET consent mode's ad_storage, as a signal."""
    p = hit.params
    params: dict[str, Any] = {}
    for key, name in (("gv", "value"), ("gc", "currency"), ("ev", "event_value"), ("ec", "event_category"),
                      ("el", "event_label"), ("transaction_id", "transaction_id"), ("prodid", "items")):
        if key in p:
            params[name] = number(p[key]) if name in ("value", "event_value") else p[key]
    event = "pageLoad" if p.get("evt") == "pageLoad" else p.get("ea", "")
    signals = {k: p[k] for k in ("asc", "sid", "vid") if k in p}
    return Event("microsoft_uet", p.get("ti", ""), event, params, hit, signals=signals)


def _linkedin_event(hit: Hit) -> Event:
    """px.ads.linkedin.com/collect?pid=...&conversionId=...: a conversion is named by its id; without one
    it is the Insight Tag's own page view (`pageview`)."""
    p = hit.params
    params: dict[str, Any] = {}
    if "value" in p:
        params["value"] = number(p["value"])
    if "currency" in p:
        params["currency"] = p["currency"]
    if "eventId" in p:
        params["event_id"] = p["eventId"]
    return Event("linkedin_insight", p.get("pid", ""), p.get("conversionId") or "pageview", params, hit)


def _reddit_event(hit: Hit) -> Event:
    """alb.reddit.com/rp.gif?id=...&event=Purchase&m.value=...&m.conversionId=...: a Custom event is named
    by its customEventName."""
    p = hit.params
    params: dict[str, Any] = {}
    for key, value in p.items():
        if not key.startswith("m."):
            continue
        name = key[2:]
        if name == "products":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        params[name] = number(value) if name in ("value", "itemCount") else value
    if "conversionId" in params:
        params["event_id"] = params["conversionId"]
    if "products" in params:
        params["items"] = params["products"]
    event = p.get("event", "")
    if event == "Custom" and params.get("customEventName"):
        event = params["customEventName"]
    return Event("reddit_pixel", p.get("id", ""), event, params, hit)


def _x_event(hit: Hit) -> Event:
    """analytics.twitter.com/1/i/adsct and its copy to t.co/1/i/adsct (see gateway/testing/stubs/twitter_uwt.js):
    the page view (events=[["pageview",{}]]) is `PageView`, an event is named by its tw-<pixel>-<event> id.
    The t.co copy is the same event: it is `automatic`, so a firing counts once."""
    p = hit.params
    data = _json_param(p, "event")
    params: dict[str, Any] = {k: (number(v) if k == "value" else v) for k, v in data.items()}
    if "conversion_id" in params:
        params["event_id"] = params["conversion_id"]
    event = p.get("event_id") or ("PageView" if "pageview" in p.get("events", "") else "")
    return Event("x_pixel", p.get("txn_id", ""), event, params, hit, automatic=hit.host == "t.co")


def decode(requests: list[RecordedRequest]) -> list[Event]:
    """Every vendor event in these requests, in the order they were sent (libraries are not events)."""
    events: list[Event] = []
    for request in requests:
        host, path = request.host, request.path
        if host.endswith(GA4_HOST_SUFFIX) and path == "/g/collect":
            events.extend(_ga4_event(hit) for hit in ga4_hits(request))
        elif host == "www.facebook.com" and path.rstrip("/") == "/tr":
            events.append(_meta_event(Hit(request, {**request.params, **request.form()})))
        elif host == "analytics.tiktok.com" and path in ("/api/v2/pixel", "/api/v2/pixel/act"):
            try:
                data = request.json()
            except ValueError:
                data = None
            events.append(_tiktok_event(Hit(request, request.params, data=data), path.endswith("/act")))
        elif host == "www.googleadservices.com" and path.startswith("/pagead/conversion/"):
            events.append(_ads_event(Hit(request, request.params), conversion=True))
        elif host.endswith("doubleclick.net") and path.startswith("/pagead/viewthroughconversion/"):
            events.append(_ads_event(Hit(request, request.params), conversion=False))
        elif host == "ct.pinterest.com" and path.rstrip("/") == "/v3":
            events.append(_pinterest_event(Hit(request, request.params)))
        elif host == "tr.snapchat.com" and path == "/p":
            events.append(_snap_event(Hit(request, {**request.params, **request.form()})))
        elif host == "bat.bing.com" and path == "/action/0":
            events.append(_uet_event(Hit(request, request.params)))
        elif host == "px.ads.linkedin.com" and path.rstrip("/") == "/collect":
            events.append(_linkedin_event(Hit(request, request.params)))
        elif host == "alb.reddit.com" and path == "/rp.gif":
            events.append(_reddit_event(Hit(request, request.params)))
        elif host in ("analytics.twitter.com", "t.co") and path == "/1/i/adsct":
            events.append(_x_event(Hit(request, request.params)))
    return events


def ga4_hits(request: RecordedRequest) -> list[Hit]:
    """One hit per GA4 event: a batch's shared query parameters merged with each body line."""
    shared = request.params
    lines = request.body_lines()
    if not lines:
        return [Hit(request, dict(shared))]
    return [Hit(request, {**shared, **parse_form(line)}, index=i) for i, line in enumerate(lines)]

"""What the three vendor adapters share when reading an answer, and the URL redaction for logs.

Kept apart from the adapters so each adapter module only says what is particular to its vendor.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.forwarding.event import Failed, Outcome, Retry
from gateway.forwarding.sender import Answer

# Query parameters that carry a credential in some vendor URL (GA4's api_secret by design; Graph API
# accepts access_token in the query too). Matched case-insensitively.
SECRET_PARAMS = frozenset({"access_token", "api_secret", "token", "key", "secret", "client_secret"})
MAX_ERROR_CHARS = 300  # an Outcome's error goes to the dead letters and logs: enough to act on, no dumps


def redacted_url(url: str) -> str:
    """The URL with every credential-carrying query value replaced by "***", for logs and dead letters."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(k, "***" if k.lower() in SECRET_PARAMS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, safe="*"), parts.fragment))


def retry_after(headers: dict[str, str], now: float | None = None) -> float | None:
    """Seconds from a Retry-After header, either delta-seconds or an HTTP date (RFC 9110); None when
    absent or unreadable. A date in the past means "now": 0."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def json_body(answer: Answer) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's HTML error page, an empty 204)."""
    if not answer.body:
        return None
    try:
        return json.loads(answer.body.decode("utf-8", "replace"))
    except ValueError:
        return None


def short(text: str) -> str:
    return " ".join(str(text).split())[:MAX_ERROR_CHARS]


def body_excerpt(answer: Answer) -> str:
    return short(answer.body.decode("utf-8", "replace")) if answer.body else "(empty body)"


def by_status(answer: Answer, vendor: str) -> Outcome | None:
    """What the HTTP status alone decides, for a vendor whose errors carry nothing more to read: 429 and 5xx
    are worth another try (after Retry-After when given), any other non-2xx is a refusal. None for a 2xx,
    whose body decides."""
    if answer.status == 429 or answer.status >= 500:
        return Retry(f"{vendor} answered {answer.status}: {body_excerpt(answer)}", retry_after(answer.headers))
    if not 200 <= answer.status < 300:
        return Failed(f"{vendor} answered {answer.status}: {body_excerpt(answer)}")
    return None

"""Choosing a content coding from Accept-Encoding (RFC 9110, section 12.5.3), with q-values.

`gzip;q=0` means "never gzip", `*` stands for any coding not named, and identity is acceptable
unless refused by `identity;q=0` (or `*;q=0` without identity). Among acceptable codings the
highest q wins; on a tie, the smaller body (br, then gzip, then identity).

Browsers send a handful of distinct header values, so answers are memoised: a request pays one
dict lookup. The memo is cleared when it grows, so hostile clients sending endless variants cost
a re-parse, never memory.
"""

from __future__ import annotations

SERVED = ("br", "gzip", "identity")  # preference order on equal q: smallest body first
_MEMO_LIMIT = 512
_memo: dict[str, str] = {}


def _qvalue(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0  # a malformed weight is not a wish to receive that coding
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def _parse(header: str) -> str:
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, *params = item.split(";")
        name = name.strip().lower()
        if name == "x-gzip":
            name = "gzip"  # RFC 9110 8.4.1.3: a recipient should treat x-gzip as gzip
        if name:
            weights[name] = max(weights.get(name, 0.0), _qvalue(params))
    star = weights.get("*")
    best, best_q = "identity", -1.0
    for coding in SERVED:
        if coding in weights:
            q = weights[coding]
        elif coding == "identity":
            # Always acceptable unless refused, but only a fallback: any coding the client names wins.
            q = star if star is not None else 0.0001
        else:
            q = star if star is not None else 0.0
        if q > best_q and q > 0.0:
            best, best_q = coding, q
    # Nothing acceptable (identity refused too): RFC 9110 lets the server send identity anyway,
    # which beats a 406 for a script tag that cannot react to one.
    return best


def choose_coding(header: str | None) -> str:
    """'br', 'gzip' or 'identity' for an Accept-Encoding value (None: the header was absent)."""
    if not header:
        return "identity"
    coding = _memo.get(header)
    if coding is None:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        coding = _memo[header] = _parse(header[:1024])
    return coding

"""`{{ event.ecommerce.value }}`-style placeholders, compiled on the server.

The browser never parses templates: each value is compiled here into plain data
the runtime walks (`{"$": [...path]}` for a lone placeholder, `{"$t": [...]}` for
text mixing literals and placeholders). Nothing is ever evaluated as code, and a
typo in a placeholder is a validation error, not a silently empty parameter.

Roots: `event` (what triggered the tag: the pushed data-layer object, or the
clicked element), `dataLayer` (the merged data-layer model at that moment, as in
GTM), `page` (url, path, title, referrer, hostname, query), `url` (href, host, path,
fragment, and `url.query.<name>`: one query parameter), `cookie.<name>` (a first-party
cookie's value) and `var.<name>` (a variable declared under `variables:`).

A placeholder that finds no value leaves its parameter out (a declared variable's
`default` applies first), so no request carries "undefined". A literal `{{` or `}}`
(minified JavaScript has plenty) is written `{{ '{{' }}` or `{{ '}}' }}`.
"""

from __future__ import annotations

import re
from typing import Any

ROOTS = ("event", "dataLayer", "page", "url", "cookie", "var")
PAGE_FIELDS = ("url", "path", "title", "referrer", "hostname", "query")
URL_FIELDS = ("href", "host", "path", "fragment", "query")
ESCAPES_HINT = "write a literal {{ as {{ '{{' }} and a literal }} as {{ '}}' }}"

# An escape ({{ '{{' }} or {{ '}}' }}) or a placeholder; escapes first, so their braces are not read as one.
_PLACEHOLDER = re.compile(r"\{\{\s*'(\{\{|\}\})'\s*\}\}|\{\{(.*?)\}\}")
_SEGMENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$|^[0-9]+$")


class PlaceholderError(ValueError):
    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.path = path


def parse_path(expression: str) -> list[str]:
    text = expression.strip()
    parts = text.split(".") if text else []
    if not parts or parts[0] not in ROOTS:
        raise PlaceholderError(
            f"placeholder '{{{{ {text} }}}}' must start with one of: {', '.join(r + '.' for r in ROOTS)}")
    if len(parts) < 2 and parts[0] != "dataLayer":
        raise PlaceholderError(f"placeholder '{{{{ {text} }}}}' needs a field after '{parts[0]}.'")
    for part in parts[1:]:
        if not _SEGMENT.match(part):
            raise PlaceholderError(
                f"placeholder '{{{{ {text} }}}}' has an invalid part {part!r}; use names separated by dots, e.g. event.ecommerce.value")
    if parts[0] == "page" and parts[1] not in PAGE_FIELDS:
        raise PlaceholderError(f"placeholder '{{{{ {text} }}}}': page has only {', '.join(PAGE_FIELDS)}")
    if parts[0] == "url" and (parts[1] not in URL_FIELDS or (parts[1] == "query") != (len(parts) == 3) or len(parts) > 3):
        raise PlaceholderError(f"placeholder '{{{{ {text} }}}}': url has {', '.join(f'url.{f}' for f in URL_FIELDS[:-1])} "
                               "and url.query.<parameter name>")
    if parts[0] in ("cookie", "var") and len(parts) != 2:
        raise PlaceholderError(f"placeholder '{{{{ {text} }}}}': write {parts[0]}.<name>, one name after the dot")
    return parts


def compile_value(value: Any, path: tuple = ()) -> Any:
    """Compile a literal, a placeholder string, or a list/dict of them.

    `path` locates `value` in the YAML file; a PlaceholderError carries it so the
    message can name the exact key.
    """
    if isinstance(value, list):
        return [compile_value(v, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: compile_value(v, path + (k,)) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    try:
        return _compile_text(value)
    except PlaceholderError as exc:
        raise PlaceholderError(str(exc), path) from None


def placeholder_errors(value: Any, path: tuple = ()) -> list[PlaceholderError]:
    """Every placeholder mistake inside `value`, not just the first."""
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in placeholder_errors(v, path + (i,))]
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in placeholder_errors(v, path + (k,))]
    try:
        compile_value(value, path)
    except PlaceholderError as exc:
        return [exc]
    return []


def literal_text(value: str) -> str:
    """A string that must hold no placeholder (code, selectors): its escapes turned into the braces they stand for."""
    compiled = _compile_text(value)
    if not isinstance(compiled, str):
        raise PlaceholderError(f"placeholders are not filled in here ({value[:60]!r}...); {ESCAPES_HINT}")
    return compiled


def _compile_text(value: str) -> Any:
    if "{{" not in value and "}}" not in value:
        return value
    pieces: list[Any] = []
    position = 0
    for match in _PLACEHOLDER.finditer(value):
        between = value[position:match.start()]
        if "{{" in between or "}}" in between:
            break  # reported below
        if match.group(1):
            between += match.group(1)  # an escaped brace pair: literal text
        elif between:
            pieces.append(between)
            between = ""
        if between:
            pieces.append(between)
        if not match.group(1):
            pieces.append({"$": parse_path(match.group(2))})
        position = match.end()
    rest = value[position:]
    if "{{" in rest or "}}" in rest:
        raise PlaceholderError(f"unbalanced braces in {_short(value)}; placeholders look like {{{{ event.value }}}}; "
                               f"{ESCAPES_HINT}")
    if rest:
        pieces.append(rest)
    pieces = _joined(pieces)
    if not pieces:
        return ""
    if len(pieces) == 1 and isinstance(pieces[0], str):
        return pieces[0]  # only escapes: plain text
    if len(pieces) == 1:
        return pieces[0]  # a lone placeholder keeps the value's type (numbers stay numbers)
    return {"$t": pieces}


def _joined(pieces: list[Any]) -> list[Any]:
    """Neighbouring literal pieces as one."""
    out: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _short(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")

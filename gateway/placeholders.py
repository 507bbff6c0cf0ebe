"""`{{ event.ecommerce.value }}`-style placeholders, compiled on the server.

The browser never parses templates: each value is compiled here into plain data
the runtime walks (`{"$": [...path]}` for a lone placeholder, `{"$t": [...]}` for
text mixing literals and placeholders). Nothing is ever evaluated as code, and a
typo in a placeholder is a validation error, not a silently empty parameter.

Roots: `event` (what triggered the tag: the pushed data-layer object, or the
clicked element), `dataLayer` (the merged data-layer model at that moment, as in
GTM), `page` (url, path, title, referrer, hostname, query).
"""

from __future__ import annotations

import re
from typing import Any

ROOTS = ("event", "dataLayer", "page")
PAGE_FIELDS = ("url", "path", "title", "referrer", "hostname", "query")

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
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


def _compile_text(value: str) -> Any:
    if "{{" not in value and "}}" not in value:
        return value
    pieces: list[Any] = []
    position = 0
    for match in _PLACEHOLDER.finditer(value):
        if match.start() > position:
            pieces.append(value[position:match.start()])
        pieces.append({"$": parse_path(match.group(1))})
        position = match.end()
    rest = value[position:]
    if "{{" in rest or "}}" in rest or any("{{" in p or "}}" in p for p in pieces if isinstance(p, str)):
        raise PlaceholderError(f"unbalanced braces in {value!r}; placeholders look like {{{{ event.value }}}}")
    if rest:
        pieces.append(rest)
    if len(pieces) == 1 and isinstance(pieces[0], dict):
        return pieces[0]  # a lone placeholder keeps the value's type (numbers stay numbers)
    return {"$t": pieces}

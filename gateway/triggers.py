"""Triggers, their conditions and a tag's firing rule: checked and compiled here, looked up in the browser.

The schema checks shapes; this module checks what a schema cannot say well (which keys fit
which trigger type, one operator per condition, regular expressions that compile) and turns
each into the plain data consent_ui/runtime.js walks. Each trigger type other than the two
every store uses (page_view, event) has its own file under consent_ui/triggers/, shipped in a
container only when one of its tags uses that type; the same holds for conditions and firing
rules (consent_ui/rules/).

A condition is `{value: "<placeholder text>", <operator>: <operand>}` (with `not: true` to
negate), or a group `{all: [...]}` / `{any: [...]}`. `conditions` must all hold for the trigger
to fire the tag; `unless` blocks it when any of its conditions holds.
"""

from __future__ import annotations

import re
import difflib
from typing import Any

from gateway.placeholders import PlaceholderError, compile_value

# Optional keys per trigger type (besides `type`, `conditions` and `unless`, which every type takes).
TRIGGER_KEYS: dict[str, set[str]] = {
    "page_view": {"paths"},
    "dom_ready": set(),
    "window_loaded": set(),
    "history_change": set(),
    "event": {"event"},
    "click": {"selector", "links_only"},
    "form_submit": {"selector", "check_validation"},
    "element_visible": {"selector", "share", "every_time"},
    "scroll_depth": {"thresholds"},
    "timer": {"interval_ms", "limit"},
}
COMMON_KEYS = {"type", "conditions", "unless"}
# What the runtime calls an occurrence of each type, when it is not the pushed `event`; vendor
# templates send it as the event name (a single-page navigation is a page view to every vendor).
OCCURRENCE_NAMES = {"dom_ready": "page_view", "window_loaded": "page_view", "history_change": "page_view",
                    "scroll_depth": "scroll"}
# Shipped with the runtime itself; every other type is a file under consent_ui/triggers/.
BUILT_IN = frozenset({"page_view", "event"})

OPERATORS = ("equals", "contains", "starts_with", "ends_with", "matches", "in", "gt", "gte", "lt", "lte")
_SHORT = {"equals": "eq", "contains": "has", "starts_with": "pre", "ends_with": "suf", "matches": "re", "in": "in",
          "gt": "gt", "gte": "ge", "lt": "lt", "lte": "le"}
FIRING_RULES = ("every_time", "once_per_page", "once_per_session", "once_per_visitor")

Problems = list[tuple[tuple, str]]  # (path inside the tag, message)


def occurrence_name(trigger: dict) -> str:
    """The name of the occurrences a trigger fires on (the pushed event's name for `event`)."""
    if trigger["type"] == "event":
        return trigger["event"]
    return OCCURRENCE_NAMES.get(trigger["type"], trigger["type"])


def check_trigger(trigger: dict) -> Problems:
    problems: Problems = []
    allowed = TRIGGER_KEYS[trigger["type"]] | COMMON_KEYS
    for key in trigger:
        if key not in allowed:
            owners = [t for t, keys in TRIGGER_KEYS.items() if key in keys]
            where = f"; it belongs to type {' or '.join(repr(o) for o in owners)}" if owners else ""
            problems.append(((key,), f"'{key}' does not apply to trigger type '{trigger['type']}'{where}"))
    selector = trigger.get("selector")
    if isinstance(selector, str) and any(c in selector for c in "{};"):
        problems.append((("selector",), f"{selector!r} is not a CSS selector (no braces or semicolons)"))
    for key in ("conditions", "unless"):
        for index, condition in enumerate(trigger.get(key, ())):
            problems.extend(((key, index) + path, message) for path, message in _check_condition(condition))
    return problems


def _check_condition(condition: dict) -> Problems:
    groups = [k for k in ("all", "any") if k in condition]
    operators = [k for k in OPERATORS if k in condition]
    if groups:
        if len(groups) > 1 or operators or "value" in condition:
            return [((), "a condition is either a group (all: or any:) or one test of a value, not both")]
        return [((groups[0], i) + path, message) for i, inner in enumerate(condition[groups[0]])
                for path, message in _check_condition(inner)]
    if "value" not in condition:
        return [((), "a condition needs `value` (e.g. \"{{ page.path }}\") and one operator: " + ", ".join(OPERATORS))]
    if len(operators) != 1:
        found = f"found {', '.join(operators)}" if operators else "found none"
        return [((), f"give exactly one operator: {', '.join(OPERATORS)} ({found})")]
    problems: Problems = []
    try:
        compile_value(condition["value"])
    except PlaceholderError as error:
        problems.append((("value",), str(error)))
    if "matches" in condition:
        try:
            re.compile(condition["matches"])
        except re.error as error:
            problems.append((("matches",), f"{condition['matches']!r} is not a regular expression: {error}"))
    return problems


def compile_trigger(trigger: dict) -> dict[str, Any]:
    """The trigger as the runtime reads it (placeholders and conditions compiled)."""
    out: dict[str, Any] = {"type": trigger["type"]}
    for key, value in trigger.items():
        if key == "paths":
            out["paths"] = [_glob_to_regex(p) for p in value]
        elif key in ("conditions", "unless"):
            out["when" if key == "conditions" else "unless"] = [_compile_condition(c) for c in value]
        elif key != "type":
            out[key] = value
    # One occurrence per click/submit/element/tick for each distinct way the tags look at it.
    kind = trigger["type"]
    if kind in ("click", "form_submit"):
        out["sig"] = (("a|" if trigger.get("links_only") else "") + trigger.get("selector", "*")
                      + ("|v" if trigger.get("check_validation") else ""))
    elif kind == "element_visible":
        out["sig"] = f"{trigger['selector']}|{trigger.get('share', 50)}|{int(bool(trigger.get('every_time')))}"
    elif kind == "timer":
        out["sig"] = f"{trigger['interval_ms']}|{trigger.get('limit', 0)}"
    return out


def _compile_condition(condition: dict) -> dict[str, Any]:
    if "all" in condition or "any" in condition:
        group = "all" if "all" in condition else "any"
        out: dict[str, Any] = {group: [_compile_condition(c) for c in condition[group]]}
    else:
        operator = next(k for k in OPERATORS if k in condition)
        out = {"v": compile_value(condition["value"]), "op": _SHORT[operator], "a": condition[operator]}
    if condition.get("not"):
        out["not"] = 1
    return out


def compile_firing(spec: dict) -> dict[str, Any]:
    """`fire`, `delay_ms` and `setup` of a tag, as the runtime reads them (absent when default)."""
    out: dict[str, Any] = {}
    rule = spec.get("fire", "every_time")
    if isinstance(rule, dict):
        out["once"] = {"key": compile_value(rule["once_per_key"])}
    elif rule != "every_time":
        out["once"] = rule.removeprefix("once_per_")
    if spec.get("delay_ms"):
        out["delay"] = spec["delay_ms"]
    return out


def check_firing(spec: dict) -> Problems:
    rule = spec.get("fire")
    if isinstance(rule, dict):
        try:
            key = compile_value(rule["once_per_key"])
        except PlaceholderError as error:
            return [(("fire", "once_per_key"), str(error))]
        if isinstance(key, str):
            return [(("fire", "once_per_key"), "the key must come from the page, e.g. "
                     "\"{{ event.ecommerce.transaction_id }}\"; a fixed text would make the tag fire once ever")]
    return []


EXTRA_ROOTS = ("url", "cookie", "var")  # placeholder roots whose lookup is a file under consent_ui/values/


def runtime_files(tags: list[dict], variables: dict | None = None) -> list[str]:
    """The consent_ui files the runtime needs for these compiled tags (and declared variables), beyond the core."""
    files = sorted({f"triggers/{t['trigger']['type']}.js" for t in tags if t["trigger"]["type"] not in BUILT_IN})
    if any(t["trigger"].get("check_validation") for t in tags):
        files.append("triggers/form_submit_validation.js")  # after form_submit.js, which it extends
    roots = _roots([tags, variables or {}])
    files += [f"values/{root}.js" for root in EXTRA_ROOTS if root in roots]
    if any("when" in t["trigger"] or "unless" in t["trigger"] for t in tags):
        files.append("rules/conditions.js")
    if any("once" in t or "delay" in t or "setup" in t for t in tags):
        files.append("rules/firing.js")
    if any("ss" in t for t in tags):
        files.append("rules/server_side.js")
    return files


def _roots(value: Any) -> set[str]:
    """The placeholder roots a compiled value uses."""
    if isinstance(value, dict):
        if "$" in value and isinstance(value["$"], list):
            return {value["$"][0]}
        return set().union(*(_roots(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_roots(v) for v in value)) if value else set()
    return set()


def _glob_to_regex(glob: str) -> str:
    return "^" + ".*".join(re.sub(r"[\\^$.|?+()\[\]{}/]", lambda m: "\\" + m.group(0), part)
                           for part in glob.split("*")) + "$"


# ---------------------------------------------------------------------------------- warnings
# What `{{ event.* }}` holds for each trigger type (None: whatever the store pushed). A placeholder
# outside it can never have a value: `gateway validate` warns (the parameter would always be left out).
ELEMENT_FIELDS = {"id", "text", "classes", "href", "data"}
EVENT_FIELDS: dict[str, dict[str, set[str] | None] | None] = {
    "page_view": {}, "dom_ready": {}, "window_loaded": {},
    "history_change": {"old_url": None, "new_url": None, "source": None},
    "event": None,
    "click": {"element": ELEMENT_FIELDS},
    "form_submit": {"element": ELEMENT_FIELDS, "form": {"id", "action", "method"}},
    "element_visible": {"element": ELEMENT_FIELDS, "share": None},
    "scroll_depth": {"threshold": None},
    "timer": {"count": None, "interval_ms": None},
}
# GA4's e-commerce object, the data layer's canonical event model: a near miss is most likely a typo.
ECOMMERCE_FIELDS = ("transaction_id", "value", "currency", "tax", "shipping", "coupon", "affiliation", "items",
                    "item_list_id", "item_list_name", "payment_type", "shipping_tier", "creative_name",
                    "creative_slot", "promotion_id", "promotion_name")


def placeholder_warnings(trigger: dict, fields: dict[tuple, Any]) -> Problems:
    """Warnings for `{{ event.* }}` placeholders in `fields` (YAML path -> raw value) that this trigger's
    occurrences can never fill, and near misses of GA4 e-commerce names."""
    found: Problems = []
    for where, value in fields.items():
        for path in _placeholders(value):
            message = _event_warning(trigger, path)
            if message:
                found.append((where, message))
    return found


def _event_warning(trigger: dict, path: list[str]) -> str | None:
    if path[0] != "event" or len(path) < 2:
        return None
    shown = "{{ " + ".".join(path) + " }}"
    shape = EVENT_FIELDS[trigger["type"]]
    if shape is None:  # a data-layer push: anything may be there, but `ecomerce` is most likely a typo
        close = difflib.get_close_matches(path[1], ["ecommerce"], n=1, cutoff=0.8)
        if close and path[1] != "ecommerce":
            return f"{shown} is never filled by a GA4 e-commerce push (did you mean event.ecommerce?)"
        if path[1] == "ecommerce" and len(path) > 2 and path[2] not in ECOMMERCE_FIELDS:
            close = difflib.get_close_matches(path[2], ECOMMERCE_FIELDS, n=1, cutoff=0.75)
            if close:
                return f"{shown}: GA4 e-commerce has no '{path[2]}' (did you mean event.ecommerce.{close[0]}?)"
        return None
    inner = shape.get(path[1], "missing") if shape else "missing"
    if inner == "missing":
        has = ", ".join(f"event.{k}" for k in shape) if shape else "nothing"
        return (f"{shown} never has a value on a {trigger['type']} trigger (its event has {has}); "
                "use dataLayer., page. or url. instead, or another trigger type")
    if inner is not None and len(path) > 2 and path[2] not in inner:
        return (f"{shown} never has a value: event.{path[1]} has {', '.join(sorted(inner))}"
                + (" (data.<name> for data-* attributes)" if "data" in inner else ""))
    return None


def _placeholders(value: Any) -> list[list[str]]:
    if isinstance(value, str):
        try:
            return _paths(compile_value(value))
        except PlaceholderError:
            return []  # an error, reported as one
    if isinstance(value, dict):
        return [p for v in value.values() for p in _placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v)]
    return []


def _paths(compiled: Any) -> list[list[str]]:
    if isinstance(compiled, dict):
        if "$" in compiled and isinstance(compiled["$"], list):
            return [compiled["$"]]
        return [p for v in compiled.values() for p in _paths(v)]
    if isinstance(compiled, list):
        return [p for v in compiled for p in _paths(v)]
    return []

"""Validate one YAML file against the shipped JSON Schema, reporting every error.

jsonschema's own messages are written for schema authors ("Additional
properties are not allowed"); store owners need "unknown key 'selectr'; did you
mean 'selector'?". Each error is rewritten here, with the schema's `x-hint`
(our own annotation keyword, ignored by validators) saying what is allowed.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from gateway.errors import Problem
from gateway.vendors import schema_fragments
from gateway.yaml_source import YamlSource, format_path

_TYPE_NAMES = {
    "string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "object": "a mapping of keys", "array": "a list", "null": "nothing",
}


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    text = resources.files("gateway").joinpath("schemas/tag_config.schema.json").read_text("utf-8")
    schema = json.loads(text)
    # Each vendor unit brings its own `$defs/<key>` and `tag` property (gateway/vendors/<key>/vendor.yaml).
    defs, properties = schema_fragments()
    schema["$defs"].update(defs)
    schema["$defs"]["tag"]["properties"].update(properties)
    return schema


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_source(source: YamlSource) -> tuple[list[Problem], set[tuple]]:
    """Every schema problem of one file, and the paths of the values that have them.

    The paths let the cross-checks skip just the broken parts, so one run reports
    schema mistakes and, say, an undeclared category in another tag together.
    """
    problems: list[Problem] = []
    bad_paths: set[tuple] = set()
    for error in _validator().iter_errors(source.data):
        problems.extend(_problems_for(error, source))
        bad_paths.update(_bad_paths(error))
    return problems, bad_paths


def _bad_paths(error: ValidationError) -> list[tuple]:
    """The values an error really is about: an unknown key taints only itself, not its mapping."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        return [path + (key,) for key in error.instance if key not in allowed] or [path]
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        return [path + (error.instance,)]
    return [path]


def _problems_for(error: ValidationError, source: YamlSource) -> list[Problem]:
    path = tuple(error.absolute_path)

    def problem(at: tuple, message: str) -> Problem:
        return Problem(source.name, source.line_of(at), format_path(at), message)

    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        if allowed:
            return [problem(path + (k,), _unknown_key(k, allowed)) for k in extras]
        # A free-form mapping (e.g. categories) whose values failed: leave it to the value errors.
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        return [problem(path + (error.instance,), _message(error, path))]
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Report the branch that got furthest instead of "is not valid under any of the given schemas".
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if len(best.absolute_path) > len(error.absolute_path):
            return _problems_for(best, source)
        return [problem(path, f"expected {_allowed_types(error)}, got {_describe(error.instance)}")]
    return [problem(path, _message(error, path))]


def _message(error: ValidationError, path: tuple) -> str:
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    validator, value = error.validator, error.instance
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required key '{missing}'"
    if validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        text = f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, got {_describe(value)}"
        if "string" in names and isinstance(value, (int, float)) and not isinstance(value, bool):
            text += " (put it in quotes)"
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and {"integer", "number"} & set(names):
            text += " (remove the quotes)"
        return text
    if validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        guess = _did_you_mean(str(value), [str(v) for v in error.validator_value])
        return f"{value!r} is not allowed; allowed: {allowed}{guess}"
    if validator == "not":
        return f"{value!r} {hint}" if hint else f"{value!r} is not allowed"
    if validator == "propertyNames":
        return f"key {value!r} is not allowed" + (f": {hint}" if hint else "")
    if validator in ("pattern", "format"):
        return f"{value!r} {hint}" if hint else f"{value!r} does not have the expected form ({error.validator_value})"
    if validator in ("minimum", "maximum"):
        text = f"{value!r} is {'too small' if validator == 'minimum' else 'too large'} (the {validator} is {error.validator_value})"
        return f"{text}; {hint}" if hint else text
    if validator in ("minLength", "maxLength", "minItems", "maxItems", "minProperties"):
        return {"minLength": "must not be empty" if error.validator_value == 1 else f"must be at least {error.validator_value} characters",
                "maxLength": f"is too long (at most {error.validator_value} characters)",
                "minItems": f"needs at least {error.validator_value} item(s)",
                "maxItems": f"has too many items (at most {error.validator_value})",
                "minProperties": "must not be empty"}[validator]
    return f"{error.message}; {hint}" if hint else error.message


def _unknown_key(key: str, allowed: list[str]) -> str:
    return f"unknown key '{key}'{_did_you_mean(key, allowed)}; allowed keys: {', '.join(allowed)}"


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _allowed_types(error: ValidationError) -> str:
    types: list[str] = []
    for sub in error.validator_value:
        t = sub.get("type") if isinstance(sub, dict) else None
        if t is None and isinstance(sub, dict) and "$ref" in sub:
            t = ["string", "number", "boolean"]
        for name in [t] if isinstance(t, str) else (t or []):
            if _TYPE_NAMES.get(name, name) not in types:
                types.append(_TYPE_NAMES.get(name, name))
    return " or ".join(types) or "a valid value"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__

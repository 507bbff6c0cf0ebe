"""`image`: a 1x1 pixel GET to a URL; parameter values are URL-encoded in the browser."""

from urllib.parse import urlsplit

from gateway.placeholders import compile_value

KEY = "image"


def hosts(compiled: dict) -> tuple[str, ...]:
    return (urlsplit(compiled["url"]).hostname or "",)


def compile(spec: dict, trigger: dict) -> dict:
    return {"url": spec["url"], "params": compile_value(spec.get("params", {}), ("params",))}

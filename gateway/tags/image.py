"""`image`: a 1x1 pixel GET to a URL; parameter values are URL-encoded in the browser."""

from gateway.placeholders import compile_value

KEY = "image"


def compile(spec: dict) -> dict:
    return {"url": spec["url"], "params": compile_value(spec.get("params", {}), ("params",))}

"""What the three vendor templates share: an account id, an optional event name, optional params."""

from gateway.placeholders import compile_value


def compile_vendor_call(spec: dict, id_key: str) -> dict:
    params = spec.get("params")
    return {id_key: spec[id_key], "event": spec.get("event"),
            "params": None if params is None else compile_value(params, ("params",))}

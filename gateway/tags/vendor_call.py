"""What the vendor templates share: an account id, an event name, optional params.

The event name is settled here, on the server, not in the browser: a tag's trigger fixes the
name of every occurrence it fires on (the pushed `event`, or `page_view`, or `click`), so the
mapping to each vendor's standard events never has to ship in the container.
"""

from __future__ import annotations

from gateway.placeholders import compile_value


def occurrence_name(trigger: dict) -> str:
    """The name the runtime gives an occurrence of this trigger (what GA4 calls the event)."""
    return trigger["event"] if trigger["type"] == "event" else trigger["type"]


def compile_vendor_call(spec: dict, id_key: str, event: str) -> dict:
    """Only what the browser needs: keys whose value is empty are left out of the container."""
    compiled = {id_key: spec[id_key], "event": spec.get("event") or event}
    if spec.get("params") is not None:
        compiled["params"] = compile_value(spec["params"], ("params",))
    return compiled

"""x_pixel at build time: X names an event by the id Events Manager gave it, so a tag with `event_id`
sends 'tw-<pixel id>-<event id>' (`event`); a tag without only configures the pixel (`page`), whose own
page view is X's page view (event `PageView`, vendor.yaml)."""


def compile(spec: dict, trigger: dict, vendor) -> dict:
    from gateway.placeholders import compile_value

    pixel = spec[vendor.account_key]
    compiled: dict = {vendor.account_key: pixel}
    if not spec.get("event_id"):
        compiled.update(page=True, event=vendor.events["page_view"])
        return compiled
    compiled["event"] = f"tw-{pixel}-{spec['event_id']}"
    if spec.get("params") is not None:
        compiled["params"] = compile_value(spec["params"], ("params",))
    return compiled

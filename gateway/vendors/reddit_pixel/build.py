"""reddit_pixel at build time: Reddit's standard events go out as they are, any other name as
rdt('track', 'Custom', {customEventName: NAME}) (`custom`)."""

from gateway.vendors import compile_vendor_call


def compile(spec: dict, trigger: dict, vendor) -> dict:
    compiled = compile_vendor_call(spec, vendor.account_key, vendor.event_for(trigger))
    if compiled["event"] not in vendor.build_data["standard_events"]:
        compiled["custom"] = True
    return compiled

"""meta_pixel at build time: standard events go out with trackSingle, any other name with
trackSingleCustom (`custom`); `spa_page_views` lets fbevents.js send pushState PageViews (`spa`)."""

from gateway.vendors import compile_vendor_call


def compile(spec: dict, trigger: dict, vendor) -> dict:
    compiled = compile_vendor_call(spec, vendor.account_key, vendor.event_for(trigger))
    if compiled["event"] not in vendor.build_data["standard_events"]:
        compiled["custom"] = True
    if spec.get("spa_page_views"):
        compiled["spa"] = True
    return compiled

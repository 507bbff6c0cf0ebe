"""tiktok_pixel at build time: a page-view tag without `event` calls ttq.page() (`page`, TikTok's own
page view, no event name) instead of track()."""

from gateway.vendors import compile_vendor_call


def compile(spec: dict, trigger: dict, vendor) -> dict:
    compiled = compile_vendor_call(spec, vendor.account_key, vendor.event_for(trigger))
    if trigger["type"] == "page_view" and not spec.get("event"):
        compiled["page"] = True
        del compiled["event"]
    return compiled

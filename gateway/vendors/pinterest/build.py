"""pinterest at build time: a tag whose event is Pinterest's page visit (page views, and product pages
through `view_item`) calls pintrk('page') (`page`), which is how the Pinterest Tag sends `pagevisit`."""

from gateway.vendors import compile_vendor_call


def compile(spec: dict, trigger: dict, vendor) -> dict:
    compiled = compile_vendor_call(spec, vendor.account_key, vendor.event_for(trigger))
    if compiled["event"] == vendor.events["page_view"]:
        compiled["page"] = True
    return compiled

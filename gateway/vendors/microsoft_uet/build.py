"""microsoft_uet at build time: a page-view tag without `event` only loads bat.js (`page`): the
snippet's uetq.push('pageLoad') on load is UET's page view, once per page and tag id."""

from gateway.vendors import compile_vendor_call


def compile(spec: dict, trigger: dict, vendor) -> dict:
    compiled = compile_vendor_call(spec, vendor.account_key, vendor.event_for(trigger))
    if compiled["event"] == vendor.events["page_view"]:
        compiled["page"] = True
    return compiled

"""linkedin_insight at build time: LinkedIn names a conversion by the numeric id of a conversion rule in
Campaign Manager, so a tag with `conversion_id` sends that id (`event`); a tag without only loads the
Insight Tag (`page`), whose own page view is LinkedIn's page view (event `pageview`, vendor.yaml)."""


def compile(spec: dict, trigger: dict, vendor) -> dict:
    from gateway.placeholders import compile_value

    compiled: dict = {vendor.account_key: spec[vendor.account_key]}
    if spec.get("conversion_id") is None:
        compiled.update(page=True, event=vendor.events["page_view"])
        return compiled
    compiled["event"] = str(spec["conversion_id"])
    if spec.get("params") is not None:
        compiled["params"] = compile_value(spec["params"], ("params",))
    return compiled

"""google_ads at build time: with `conversion_label` a firing is a `conversion` sent to AW-ID/LABEL
(`send_to`); without, the trigger's event goes to the AW id for remarketing audiences."""

from gateway.vendors import compile_vendor_call


def compile(spec: dict, trigger: dict, vendor) -> dict:
    label = spec.get("conversion_label")
    compiled = compile_vendor_call(spec, vendor.account_key, "conversion" if label else vendor.event_for(trigger))
    if label:
        compiled["send_to"] = f"{spec['conversion_id']}/{label}"
    return compiled

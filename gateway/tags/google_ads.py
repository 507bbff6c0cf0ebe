"""`google_ads`: Google Ads conversions and remarketing through gtag.js, so every hit carries
the visitor's Google Consent Mode state (an `image` pixel to googleadservices.com cannot).

With `conversion_label`, a firing sends `gtag('event', 'conversion', {send_to: 'AW-ID/LABEL'})`
with value, currency and transaction_id from a GA4 e-commerce push; without it, the event (page
views by default) goes to the AW id for remarketing audiences.
"""

from gateway.tags.vendor_call import compile_vendor_call, occurrence_name

KEY = "google_ads"

HOSTS = (
    "www.googletagmanager.com/gtag/js?id=AW-",
    "www.googletagmanager.com/gtag/js",
    "www.googleadservices.com",
    "*.doubleclick.net",
    "www.google.com/pagead/",
)


def compile(spec: dict, trigger: dict) -> dict:
    label = spec.get("conversion_label")
    compiled = compile_vendor_call(spec, "conversion_id", "conversion" if label else occurrence_name(trigger))
    if label:
        compiled["send_to"] = f"{spec['conversion_id']}/{label}"
    return compiled

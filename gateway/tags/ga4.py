"""`ga4`: Google Analytics 4 through gtag.js, on a data layer of its own (`tgGtagLayer`).

Without `event`, the runtime maps the trigger: page views send page_view and
e-commerce pushes (purchase, add_to_cart, ...) the same GA4 event
with the pushed `ecommerce` object as parameters. gtag.js never reads the
store's dataLayer, so it cannot send anything the configuration did not ask for.
"""

from gateway.tags.vendor_call import compile_vendor_call

KEY = "ga4"


def compile(spec: dict) -> dict:
    return compile_vendor_call(spec, "measurement_id")

"""`ga4`: Google Analytics 4 through gtag.js, on a data layer of its own (`tgGtagLayer`).

Without `event`, the event is the trigger's: page views send page_view and
e-commerce pushes (purchase, add_to_cart, ...) the same GA4 event
with the pushed `ecommerce` object as parameters. gtag.js never reads the
store's dataLayer, so it cannot send anything the configuration did not ask for.
"""

from gateway.tags.vendor_call import compile_vendor_call, occurrence_name

KEY = "ga4"

# What gtag.js talks to for GA4. The consent firewall stops these unless the tag's category is
# allowed; the library URL is split by id prefix so a GA4-only consent never loads Google Ads.
HOSTS = (
    "www.googletagmanager.com/gtag/js?id=G-",
    "www.googletagmanager.com/gtag/js",  # other ids (GT-...): any Google tag's category lets it load
    "*.google-analytics.com",
    "*.analytics.google.com",
    "www.google.com/ccm/",
)


def compile(spec: dict, trigger: dict) -> dict:
    return compile_vendor_call(spec, "measurement_id", occurrence_name(trigger))

"""`meta_pixel`: Meta (Facebook) Pixel through Meta's own fbevents.js and `fbq`.

Without `event`, the runtime maps the trigger: page views send PageView and GA4
e-commerce pushes (purchase, add_to_cart, ...) the matching Meta standard event
with value, currency and content ids taken from `ecommerce`.
"""

from gateway.tags.vendor_call import compile_vendor_call

KEY = "meta_pixel"


def compile(spec: dict) -> dict:
    return compile_vendor_call(spec, "pixel_id")

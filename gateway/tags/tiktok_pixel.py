"""`tiktok_pixel`: TikTok Pixel through TikTok's events.js and `ttq`.

Without `event`, the runtime maps the trigger: page views call ttq.page() and GA4
e-commerce pushes (purchase, add_to_cart, ...) the matching TikTok event (purchase -> CompletePayment)
with value, currency and contents taken from `ecommerce`.
"""

from gateway.tags.vendor_call import compile_vendor_call

KEY = "tiktok_pixel"


def compile(spec: dict) -> dict:
    return compile_vendor_call(spec, "pixel_id")

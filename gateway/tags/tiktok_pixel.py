"""`tiktok_pixel`: TikTok Pixel through TikTok's events.js and `ttq`.

Without `event`, page views call ttq.page() (`page`) and GA4 e-commerce pushes (purchase,
add_to_cart, ...) the matching TikTok event (purchase -> CompletePayment) with value, currency
and contents taken from `ecommerce`.
"""

from gateway.tags.vendor_call import compile_vendor_call, occurrence_name

KEY = "tiktok_pixel"

# events.js and every beacon (/api/v2/pixel, /api/v2/pixel/act: automatic Metadata and Click events).
HOSTS = ("analytics.tiktok.com",)

EVENTS = {
    "purchase": "CompletePayment", "add_to_cart": "AddToCart", "view_item": "ViewContent",
    "begin_checkout": "InitiateCheckout", "add_payment_info": "AddPaymentInfo", "add_to_wishlist": "AddToWishlist",
    "sign_up": "CompleteRegistration", "search": "Search", "generate_lead": "SubmitForm",
}


def compile(spec: dict, trigger: dict) -> dict:
    name = occurrence_name(trigger)
    compiled = compile_vendor_call(spec, "pixel_id", EVENTS.get(name, name))
    if trigger["type"] == "page_view" and not spec.get("event"):
        compiled["page"] = True  # ttq.page(): TikTok's own page view, no event name
        del compiled["event"]
    return compiled

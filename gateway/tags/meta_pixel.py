"""`meta_pixel`: Meta (Facebook) Pixel through Meta's own fbevents.js and `fbq`.

Without `event`, page views send PageView and GA4 e-commerce pushes (purchase, add_to_cart, ...)
the matching Meta standard event, with value, currency and content ids taken from `ecommerce`.
Standard events go out with trackSingle, any other name with trackSingleCustom (`custom`).
"""

from gateway.tags.vendor_call import compile_vendor_call, occurrence_name

KEY = "meta_pixel"

# fbevents.js, its per-pixel config (/signals/config/<id>) and the /tr beacon.
HOSTS = ("connect.facebook.net", "*.facebook.com/tr")

EVENTS = {
    "page_view": "PageView", "purchase": "Purchase", "add_to_cart": "AddToCart", "view_item": "ViewContent",
    "begin_checkout": "InitiateCheckout", "add_payment_info": "AddPaymentInfo", "add_to_wishlist": "AddToWishlist",
    "sign_up": "CompleteRegistration", "generate_lead": "Lead", "search": "Search",
}
STANDARD_EVENTS = frozenset({
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact", "CustomizeProduct",
    "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView", "Purchase", "Schedule", "Search",
    "StartTrial", "SubmitApplication", "Subscribe", "ViewContent",
})


def compile(spec: dict, trigger: dict) -> dict:
    name = occurrence_name(trigger)
    compiled = compile_vendor_call(spec, "pixel_id", EVENTS.get(name, name))
    if compiled["event"] not in STANDARD_EVENTS:
        compiled["custom"] = True
    if spec.get("spa_page_views"):
        compiled["spa"] = True
    return compiled

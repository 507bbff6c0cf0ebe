/* google_ads: conversions (tags with a conversion label: `send_to` is AW-ID/LABEL) and remarketing
 * events through gtag.js (see google.js), so every hit carries the visitor's Consent Mode state.
 * A GA4 e-commerce push gives the conversion its value, currency and transaction id (Google
 * de-duplicates on it); a remarketing event also gets the items. */
KINDS.google_ads = {
  fire: function (tag, occ) {
    var e = ecommerceOf(occ), p = {};
    google.setup(tag.conversion_id);
    // Firing only because of `after_opt_out: restricted`: Google's restricted data processing (CCPA).
    google.gtag('set', 'restricted_data_processing', !isAllowed(tag.category));
    if (tag.params) p = resolve(tag.params, occ);
    else if (e) {
      money(e, p);
      p.transaction_id = orderId(occ);
      if (!tag.send_to) p.items = itemsOf(e);
    }
    p.send_to = tag.send_to || tag.conversion_id;
    google.gtag('event', tag.event, p);
  },
  revoke: function () { google.disable('AW-'); }
};

/* Shared by the vendor templates: the GA4 e-commerce object the store pushed, if any. */
function ecommerceOf(occ) {
  var e = occ.event && occ.event.ecommerce;
  return isPlain(e) ? e : null;
}
function itemsOf(e) { return Array.isArray(e.items) ? e.items.filter(isPlain) : []; }
// Copies value and currency from an e-commerce object into vendor params `p`.
function money(e, p) {
  if (e.value != null) p.value = e.value;
  if (e.currency) p.currency = e.currency;
  return p;
}
// The transaction id, which vendors use to de-duplicate a conversion sent twice. (While the pixel of a
// `server_side: also` tag fires, rules/server_side.js makes it the event id /collect gets too.)
function orderId(occ) {
  var e = ecommerceOf(occ);
  return e && e.transaction_id ? String(e.transaction_id) : undefined;
}

/* Shared by the vendor templates: the GA4 e-commerce object the store pushed, if any. */
function ecommerceOf(occ) {
  var e = occ.event && occ.event.ecommerce;
  return isPlain(e) ? e : null;
}
function itemsOf(e) { return Array.isArray(e.items) ? e.items.filter(isPlain) : []; }

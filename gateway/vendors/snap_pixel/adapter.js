/* snap_pixel: the Snap Pixel, Snap's scevent.min.js driven through the standard `snaptr` queue. The
 * queue exists before the library loads (the library replays it): init once per pixel id, then
 * track(EVENT, data); the event name (PAGE_VIEW, PURCHASE, ...) comes from vendor.yaml at build time.
 * From a GA4 e-commerce push the data is price, currency, transaction_id, item_ids and number_items;
 * the transaction id also goes as client_dedup_id, on which Snap de-duplicates the pixel's event
 * against its Conversions API. Snap has no per-pixel track: with two pixel ids, both get each event. */
KINDS.snap_pixel = (function () {
  var started = map();

  function queue() {
    var s = w.snaptr;
    if (typeof s !== 'function') {
      s = w.snaptr = function () { s.handleRequest ? s.handleRequest.apply(s, arguments) : s.queue.push(arguments); };
      s.queue = [];
      loadScript('https://sc-static.net/scevent.min.js');
    }
    return s;
  }

  function defaults(occ) {
    var e = ecommerceOf(occ), p = {};
    if (!e) return p;
    var items = itemsOf(e);
    if (e.value != null) p.price = e.value;
    if (e.currency) p.currency = e.currency;
    if (e.transaction_id) p.transaction_id = String(e.transaction_id);
    if (items.length) {
      p.item_ids = items.map(function (i) { return i.item_id; });
      p.number_items = items.reduce(function (n, i) { return n + (i.quantity || 1); }, 0);
    }
    return p;
  }

  return {
    fire: function (tag, occ) {
      var s = queue(), id = tag.pixel_id, order = orderId(occ);
      if (!started[id]) { started[id] = 1; s('init', id); }
      var data = tag.params ? resolve(tag.params, occ) : defaults(occ);
      if (order) data.client_dedup_id = order;
      s('track', tag.event, data);
    }
  };
})();

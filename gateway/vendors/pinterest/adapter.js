/* pinterest: the Pinterest Tag, Pinterest's core.js driven through the standard `pintrk` queue.
 * The queue exists before the library loads (core.js replays it): load (init) once per tag id, then
 * page() for page visits (`page`, settled by build.py) or track(event, data), the event name mapped
 * from GA4's at build time (vendor.yaml). From a GA4 e-commerce push the data is value, currency,
 * order_id, order_quantity and line_items; the transaction id also goes as event_id, on which Pinterest
 * de-duplicates against its Conversions API. Pinterest has no per-tag track: with two tag ids on a
 * page, both get each event. */
KINDS.pinterest = (function () {
  var started = map();

  function queue() {
    var p = w.pintrk;
    if (typeof p !== 'function') {
      p = w.pintrk = function () { p.queue.push([].slice.call(arguments)); };
      p.queue = [];
      p.version = '3.0';
      loadScript('https://s.pinimg.com/ct/core.js');
    }
    return p;
  }

  function defaults(occ) {
    var e = ecommerceOf(occ);
    if (!e) return {};
    var items = itemsOf(e), p = money(e, {});
    if (e.transaction_id) p.order_id = String(e.transaction_id);
    if (items.length) {
      p.order_quantity = items.reduce(function (n, i) { return n + (i.quantity || 1); }, 0);
      p.line_items = items.map(function (i) {
        return {product_id: i.item_id, product_name: i.item_name, product_price: i.price, product_quantity: i.quantity || 1};
      });
    }
    return p;
  }

  return {
    fire: function (tag, occ) {
      var p = queue(), id = tag.tag_id, order = orderId(occ);
      if (!started[id]) { started[id] = 1; p('load', id); }
      var data = tag.params ? resolve(tag.params, occ) : defaults(occ);
      if (order) data.event_id = order;
      if (tag.page) p('page', data);
      else p('track', tag.event, data);
    }
  };
})();

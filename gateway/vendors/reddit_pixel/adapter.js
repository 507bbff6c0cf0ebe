/* reddit_pixel: the Reddit Pixel, Reddit's pixel.js driven through the standard `rdt` queue. The queue
 * exists before the library loads (pixel.js replays rdt.callQueue): init once per pixel id, then
 * track(EVENT, data), the event name (PageVisit, Purchase, ...) from vendor.yaml at build time; a name
 * that is not one of Reddit's standard events goes as 'Custom' with customEventName (build.py: `custom`).
 * From a GA4 e-commerce push the data is value, currency, itemCount and products; the transaction id
 * goes as conversionId, on which Reddit de-duplicates the pixel's event against its Conversions API.
 * Reddit has no per-pixel track: with two pixel ids on a page, both get each event. */
KINDS.reddit_pixel = (function () {
  var started = map();

  function queue() {
    var p = w.rdt;
    if (typeof p !== 'function') {
      p = w.rdt = function () { p.sendEvent ? p.sendEvent.apply(p, arguments) : p.callQueue.push(arguments); };
      p.callQueue = [];
      loadScript('https://www.redditstatic.com/ads/pixel.js');
    }
    return p;
  }

  function defaults(occ) {
    var e = ecommerceOf(occ);
    if (!e) return {};
    var items = itemsOf(e), p = money(e, {});
    if (items.length) {
      p.itemCount = items.reduce(function (n, i) { return n + (i.quantity || 1); }, 0);
      p.products = items.map(function (i) { return {id: i.item_id, name: i.item_name, category: i.item_category}; });
    }
    return p;
  }

  return {
    fire: function (tag, occ) {
      var p = queue(), id = tag.pixel_id, order = orderId(occ);
      if (!started[id]) { started[id] = 1; p('init', id, {optOut: false, useDecimalCurrencyValues: true}); }
      var data = tag.params ? resolve(tag.params, occ) : defaults(occ);
      if (order) data.conversionId = order;
      if (tag.custom) { data.customEventName = tag.event; p('track', 'Custom', data); }
      else p('track', tag.event, data);
    }
  };
})();

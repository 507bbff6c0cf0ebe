/* x_pixel: the X (Twitter) Pixel, X's uwt.js driven through the standard `twq` queue. The queue exists
 * before the library loads (uwt.js replays twq.queue): twq('config', pixel_id) once per page and pixel
 * id, on which the library sends X's page view by itself (a tag without `event_id` does only this:
 * `page`); a tag with an event id created in X Events Manager calls twq('event', 'tw-<pixel>-<event>',
 * data): value, currency, contents and num_items from a GA4 e-commerce push and the transaction id as
 * conversion_id, on which X de-duplicates (a reload, its Conversions API). */
KINDS.x_pixel = (function () {
  var started = map();

  function queue() {
    var t = w.twq;
    if (typeof t !== 'function') {
      t = w.twq = function () { t.exe ? t.exe.apply(t, arguments) : t.queue.push(arguments); };
      t.version = '1.1';
      t.queue = [];
      loadScript('https://static.ads-twitter.com/uwt.js');
    }
    return t;
  }

  function defaults(occ) {
    var e = ecommerceOf(occ);
    if (!e) return {};
    var items = itemsOf(e), p = money(e, {});
    if (items.length) {
      p.contents = items.map(function (i) {
        return {content_id: i.item_id, content_name: i.item_name, content_price: i.price, num_items: i.quantity || 1};
      });
      p.num_items = items.reduce(function (n, i) { return n + (i.quantity || 1); }, 0);
    }
    return p;
  }

  return {
    fire: function (tag, occ) {
      var t = queue(), id = tag.pixel_id, order = orderId(occ);
      if (!started[id]) { started[id] = 1; t('config', id); }
      if (tag.page) return; // config's own page view, once per page load
      var data = tag.params ? resolve(tag.params, occ) : defaults(occ);
      if (order) data.conversion_id = order;
      t('event', tag.event, data);
    }
  };
})();

/* meta_pixel: Meta's fbevents.js driven through the standard `fbq` queue.
 * autoConfig is switched off so the library sends only what a trigger asks for (no automatic
 * button-click and page-metadata events), pushState PageViews are off unless the tag sets
 * spa_page_views, and events go out with trackSingle: plain `track` would send each tag's event
 * to every pixel on the page. The event name and whether it is standard come from the server. */
KINDS.meta_pixel = (function () {
  var started = map(), revoked = false;

  function setup(tag) {
    var id = tag.pixel_id, f = w.fbq;
    if (typeof f !== 'function') {
      f = w.fbq = function () { f.callMethod ? f.callMethod.apply(f, arguments) : f.queue.push(arguments); };
      if (!w._fbq) w._fbq = f;
      f.push = f; f.loaded = true; f.version = '2.0'; f.queue = [];
      f.disablePushState = true;
      loadScript('https://connect.facebook.net/en_US/fbevents.js');
    }
    if (tag.spa) f.disablePushState = false;
    // Limited Data Use while firing only because of `after_opt_out: restricted` (Meta: US 1, California 1000;
    // 0, 0 lets Meta locate the visitor), before init and before every event.
    var ldu = !isAllowed(tag.category), ca = region === 'US-CA';
    f('dataProcessingOptions', ldu ? ['LDU'] : [], ldu && ca ? 1 : 0, ldu && ca ? 1000 : 0);
    if (revoked) { f('consent', 'grant'); revoked = false; }
    if (!started[id]) { started[id] = 1; f('set', 'autoConfig', false, id); f('init', id); }
  }

  function defaults(occ) {
    var e = ecommerceOf(occ);
    if (!e) return undefined;
    var items = itemsOf(e), p = money(e, {});
    if (items.length) {
      p.content_ids = items.map(function (i) { return i.item_id; });
      p.contents = items.map(function (i) { return {id: i.item_id, quantity: i.quantity || 1, item_price: i.price}; });
      p.content_type = 'product';
      p.num_items = items.reduce(function (n, i) { return n + (i.quantity || 1); }, 0);
    }
    return p;
  }

  return {
    fire: function (tag, occ) {
      setup(tag);
      var id = orderId(occ);
      w.fbq(tag.custom ? 'trackSingleCustom' : 'trackSingle', tag.pixel_id, tag.event,
            tag.params ? resolve(tag.params, occ) : defaults(occ), id ? {eventID: id} : undefined);
    },
    data: defaults, // the params from a GA4 ecommerce push: what consent_ui/rules/server_side.js sends too
    revoke: function () { if (w.fbq) { w.fbq('consent', 'revoke'); revoked = true; } }
  };
})();

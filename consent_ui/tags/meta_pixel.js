/* meta_pixel: Meta's fbevents.js driven through the standard `fbq` queue.
 * autoConfig is switched off so the library sends only what a trigger asks for, and events go
 * out with trackSingle: plain `track` would send each tag's event to every pixel on the page. */
KINDS.meta_pixel = (function () {
  var SRC = 'https://connect.facebook.net/en_US/fbevents.js';
  var MAP = {page_view: 'PageView', purchase: 'Purchase', add_to_cart: 'AddToCart', view_item: 'ViewContent',
             begin_checkout: 'InitiateCheckout', add_payment_info: 'AddPaymentInfo', add_to_wishlist: 'AddToWishlist',
             sign_up: 'CompleteRegistration', generate_lead: 'Lead', search: 'Search'};
  var STANDARD = 'AddPaymentInfo AddToCart AddToWishlist CompleteRegistration Contact CustomizeProduct Donate FindLocation ' +
                 'InitiateCheckout Lead PageView Purchase Schedule Search StartTrial SubmitApplication Subscribe ViewContent';
  var started = {}, revoked = false;

  function setup(id) {
    if (!w.fbq) {
      var f = w.fbq = function () { f.callMethod ? f.callMethod.apply(f, arguments) : f.queue.push(arguments); };
      if (!w._fbq) w._fbq = f;
      f.push = f; f.loaded = true; f.version = '2.0'; f.queue = [];
      loadScript(SRC);
    }
    if (revoked) { w.fbq('consent', 'grant'); revoked = false; }
    if (!started[id]) { started[id] = 1; w.fbq('set', 'autoConfig', false, id); w.fbq('init', id); }
  }

  function defaults(occ) {
    var e = ecommerceOf(occ);
    if (!e) return undefined;
    var items = itemsOf(e), p = {};
    if (e.value != null) p.value = e.value;
    if (e.currency) p.currency = e.currency;
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
      setup(tag.pixel_id);
      var name = tag.event || MAP[occ.name] || occ.name;
      var params = tag.params ? resolve(tag.params, occ) : defaults(occ);
      var e = ecommerceOf(occ), options = e && e.transaction_id ? {eventID: String(e.transaction_id)} : undefined;
      var standard = (' ' + STANDARD + ' ').indexOf(' ' + name + ' ') >= 0;
      w.fbq(standard ? 'trackSingle' : 'trackSingleCustom', tag.pixel_id, name, params, options);
    },
    cookies: ['_fbp', '_fbc'], // first-party cookies its library writes; removed on withdrawal
    revoke: function () { if (w.fbq) { w.fbq('consent', 'revoke'); revoked = true; } }
  };
})();

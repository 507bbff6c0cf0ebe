/* tiktok_pixel: TikTok's events.js driven through the standard `ttq` queue, one instance per pixel code. */
KINDS.tiktok_pixel = (function () {
  var SRC = 'https://analytics.tiktok.com/i18n/pixel/events.js';
  var METHODS = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once', 'ready', 'alias', 'group',
                 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent', 'grantConsent'];
  var MAP = {purchase: 'CompletePayment', add_to_cart: 'AddToCart', view_item: 'ViewContent', begin_checkout: 'InitiateCheckout',
             add_payment_info: 'AddPaymentInfo', add_to_wishlist: 'AddToWishlist', sign_up: 'CompleteRegistration',
             search: 'Search', generate_lead: 'SubmitForm'};
  var started = {}, revoked = false;

  function defer(target, method) {
    target[method] = function () { target.push([method].concat([].slice.call(arguments))); };
  }

  function queue() {
    if (w.ttq) return w.ttq;
    var ttq = w.ttq = [];
    w.TiktokAnalyticsObject = 'ttq';
    ttq.methods = METHODS;
    ttq.setAndDefer = defer;
    METHODS.forEach(function (m) { defer(ttq, m); });
    ttq.instance = function (id) {
      var inst = ttq._i[id] || [];
      METHODS.forEach(function (m) { defer(inst, m); });
      return inst;
    };
    ttq.load = function (id, options) {
      ttq._i = ttq._i || {}; ttq._i[id] = []; ttq._i[id]._u = SRC;
      ttq._t = ttq._t || {}; ttq._t[id] = +new Date();
      ttq._o = ttq._o || {}; ttq._o[id] = options || {};
      loadScript(SRC + '?sdkid=' + encodeURIComponent(id) + '&lib=ttq');
    };
    return ttq;
  }

  function defaults(occ) {
    var e = ecommerceOf(occ);
    if (!e) return undefined;
    var p = {content_type: 'product'};
    if (e.value != null) p.value = e.value;
    if (e.currency) p.currency = e.currency;
    p.contents = itemsOf(e).map(function (i) {
      return {content_id: i.item_id, content_name: i.item_name, quantity: i.quantity || 1, price: i.price};
    });
    return p;
  }

  return {
    fire: function (tag, occ) {
      var ttq = queue(), id = tag.pixel_id;
      if (revoked) { ttq.grantConsent(); revoked = false; }
      if (!started[id]) { started[id] = 1; ttq.load(id); }
      var inst = ttq.instance(id);
      var name = tag.event || MAP[occ.name] || occ.name;
      if (!tag.event && occ.type === 'page_view') { inst.page(); return; }
      var e = ecommerceOf(occ);
      inst.track(name, tag.params ? resolve(tag.params, occ) : defaults(occ), e && e.transaction_id ? {event_id: String(e.transaction_id)} : undefined);
    },
    cookies: ['_ttp', '_tt_*', 'ttcsid*'], // first-party cookies its library writes; removed on withdrawal
    revoke: function () { if (w.ttq) { w.ttq.revokeConsent(); revoked = true; } }
  };
})();

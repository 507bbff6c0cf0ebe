/* tiktok_pixel: TikTok's events.js driven through the standard `ttq` queue, one instance per pixel
 * code. The SDK also sends Metadata and Click events on its own (set in TikTok Events Manager, not
 * from the page); older SDKs have no revokeConsent, so the consent firewall is what stops those. */
KINDS.tiktok_pixel = (function () {
  var SRC = 'https://analytics.tiktok.com/i18n/pixel/events.js';
  var METHODS = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once', 'ready', 'alias', 'group',
                 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent', 'grantConsent'];
  var started = map(), revoked = false;

  function defer(target, method) {
    target[method] = function () { target.push([method].concat([].slice.call(arguments))); };
  }

  function queue() {
    if (w.ttq && typeof w.ttq.instance === 'function') return w.ttq; // ours, or the SDK's (not a clobbering element)
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
    var p = money(e, {content_type: 'product'});
    p.contents = itemsOf(e).map(function (i) {
      return {content_id: i.item_id, content_name: i.item_name, quantity: i.quantity || 1, price: i.price};
    });
    return p;
  }

  return {
    fire: function (tag, occ) {
      var ttq = queue(), id = tag.pixel_id, order = orderId(occ);
      if (revoked) { ttq.grantConsent(); revoked = false; }
      if (!started[id]) { started[id] = 1; ttq.load(id); }
      var inst = ttq.instance(id);
      if (tag.page) inst.page();
      else inst.track(tag.event, tag.params ? resolve(tag.params, occ) : defaults(occ), order ? {event_id: order} : undefined);
    },
    data: defaults, // the params from a GA4 ecommerce push: what consent_ui/rules/server_side.js sends too
    revoke: function () { if (w.ttq) { w.ttq.revokeConsent(); revoked = true; } }
  };
})();

/* microsoft_uet: Microsoft Advertising UET through bat.js and the standard `uetq` queue, with UET
 * consent mode. The queue is an array until bat.js loads; the standard snippet's onload then makes
 * `new UET({ti, q: uetq})` (which replays the array) and pushes 'pageLoad', the tag's page view.
 * enableAutoSpaTracking stays off: only our triggers send page views; a page-view tag firing again on the
 * same page (history_change) pushes 'event', 'page_view', {page_path}, as Microsoft describes for SPAs.
 *
 * Consent mode, as google.js does for Google: uetq.push('consent', 'default', {ad_storage: 'denied'})
 * is queued as soon as the container runs (this file is in it only when a microsoft_uet tag is), before
 * bat.js can load; 'consent', 'update' follows every change of whether a UET tag's category is allowed
 * (before a tag fires, on a withdrawal, on every choice). Events: uetq.push('event', action, {revenue_value,
 * currency, transaction_id, ecomm_prodid, ecomm_totalvalue}) from a GA4 e-commerce push. */
KINDS.microsoft_uet = (function () {
  var SRC = 'https://bat.bing.com/bat.js', started = map(), viewed = map(), told = 'denied';

  function q() {
    var u = window.uetq;
    if (!u || typeof u.push !== 'function') u = window.uetq = [];
    return u;
  }
  q().push('consent', 'default', {ad_storage: 'denied'});

  // Granted while any UET tag's category is allowed (UET has no restricted mode).
  function sync() {
    var now = CONFIG.tags.some(function (t) { return t.kind === 'microsoft_uet' && isAllowed(t.category); }) ? 'granted' : 'denied';
    if (now !== told) { told = now; q().push('consent', 'update', {ad_storage: now}); }
  }
  window.addEventListener('tag-gateway:consent', sync);

  function defaults(occ) {
    var e = ecommerceOf(occ), p = {};
    if (!e) return p;
    var items = itemsOf(e);
    if (e.value != null) { p.revenue_value = e.value; p.ecomm_totalvalue = e.value; }
    if (e.currency) p.currency = e.currency;
    if (e.transaction_id) p.transaction_id = String(e.transaction_id);
    if (items.length) p.ecomm_prodid = items.map(function (i) { return i.item_id; });
    return p;
  }

  return {
    fire: function (tag, occ) {
      var id = tag.ti;
      sync();
      if (!started[id]) {
        started[id] = 1;
        loadScript(SRC, function () {
          if (typeof w.UET !== 'function') return;
          var o = {ti: id, enableAutoSpaTracking: false};
          o.q = w.uetq;
          w.uetq = new w.UET(o);
          w.uetq.push('pageLoad');
        });
      }
      if (tag.page) {
        // The first page view of a page load is the snippet's pageLoad; later ones (history_change) are SPA
        // page views, sent as Microsoft describes.
        if (viewed[id]) q().push('event', 'page_view', {page_path: location.pathname});
        viewed[id] = 1;
        return;
      }
      var data = tag.params ? resolve(tag.params, occ) : defaults(occ);
      q().push('event', tag.event, data);
    },
    revoke: function () { sync(); }
  };
})();

/* ga4: gtag.js on a data layer of its own (`l=tgGtagLayer`), so it never reads the store's dataLayer
 * pushes and sends only the events our triggers ask for. Automatic page views are off. */
KINDS.ga4 = (function () {
  var LAYER = 'tgGtagLayer', started = {};
  function gtag() { w[LAYER].push(arguments); }

  function setup(id) {
    if (!w[LAYER]) { w[LAYER] = []; gtag('js', new Date()); }
    w['ga-disable-' + id] = false;
    if (!started[id]) {
      started[id] = 1;
      loadScript('https://www.googletagmanager.com/gtag/js?id=' + encodeURIComponent(id) + '&l=' + LAYER);
      gtag('config', id, {send_page_view: false});
    }
  }

  function defaults(occ) {
    if (occ.type === 'page_view') return {page_location: occ.page.url, page_title: occ.page.title, page_referrer: occ.page.referrer};
    var e = ecommerceOf(occ), p = {};
    if (e) for (var k in e) p[k] = e[k];
    return p;
  }

  return {
    fire: function (tag, occ) {
      var id = tag.measurement_id;
      setup(id);
      var params = tag.params ? resolve(tag.params, occ) : defaults(occ);
      params.send_to = id;
      gtag('event', tag.event || occ.name, params);
    },
    cookies: ['_ga', '_ga_*', '_gid', '_gat*'], // first-party cookies its library writes; removed on withdrawal
    revoke: function (tag) {
      // gtag.js honours this flag for every later hit of that measurement id.
      for (var id in started) w['ga-disable-' + id] = true;
    }
  };
})();

/* ga4: Google Analytics 4 through gtag.js (see google.js). Automatic page views are off: only the
 * events our triggers ask for are sent. Enhanced measurement (scroll, outbound clicks, ...) is a
 * property setting in GA4; the firewall stops it whenever the tag's category is not allowed. */
KINDS.ga4 = (function () {
  // gtag.js adds the page's location, title and referrer to every hit itself.
  function defaults(occ) {
    var e = ecommerceOf(occ), p = {};
    if (e) for (var k in e) p[k] = e[k];
    return p;
  }

  return {
    fire: function (tag, occ) {
      var id = tag.measurement_id;
      google.setup(id);
      var params = tag.params ? resolve(tag.params, occ) : defaults(occ);
      params.send_to = id;
      google.gtag('event', tag.event, params);
    },
    revoke: function () { google.disable('G-'); }
  };
})();

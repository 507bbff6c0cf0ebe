/* ga4: Google Analytics 4 through gtag.js (see google.js). Automatic page views are off: only the
 * events our triggers ask for are sent. Enhanced measurement (scroll, outbound clicks, ...) is a
 * property setting in GA4; the firewall stops it whenever the tag's category is not allowed. */
KINDS.ga4 = (function () {
  return {
    fire: function (tag, occ) {
      var id = tag.measurement_id, page = occ.page, k;
      google.setup(id);
      // gtag.js would read the page when the hit is sent: for an occurrence held until consent, that may
      // be another address of a single-page store, or another title. So the page where it happened, and
      // for a history change the address it left as the referrer; the tag's own params win.
      var params = {page_location: page.url, page_title: page.title};
      if (occ.type === 'history_change') params.page_referrer = occ.event.old_url;
      var given = tag.params ? resolve(tag.params, occ) : ecommerceOf(occ);
      for (k in given) params[k] = given[k];
      params.send_to = id;
      google.gtag('event', tag.event, params);
    },
    revoke: function () { google.disable('G-'); }
  };
})();

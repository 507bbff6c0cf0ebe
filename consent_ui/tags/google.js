/* What the Google tags (ga4, google_ads) share: gtag.js on a data layer of its own (`tgGtagLayer`,
 * so the library never reads the store's dataLayer pushes) and Google Consent Mode v2.
 * init() queues gtag('consent', 'default', ...) at start, before any Google library can load;
 * every change of the visitor's choice queues gtag('consent', 'update', ...). CONFIG.gcm.types says
 * which categories grant each consent type (google_consent_mode in the YAML). */
// Per-vendor choices (consent_ui/vendors.js) replace it: a consent type whose Google vendors are all refused.
function gcmDenied(type) {}
var google = (function () {
  var LAYER = 'tgGtagLayer', GCM = CONFIG.gcm, started = map();

  function gtag() { w[LAYER].push(arguments); }

  function consentState() {
    var s = {};
    for (var t in GCM.types) s[t] = GCM.types[t].some(isAllowed) && !gcmDenied(t) ? 'granted' : 'denied';
    return s;
  }

  return {
    gtag: gtag,
    init: function () {
      if (!Array.isArray(w[LAYER])) w[LAYER] = [];
      gtag('consent', 'default', consentState());
      if (GCM.redact) gtag('set', 'ads_data_redaction', true);
      if (GCM.passthrough) gtag('set', 'url_passthrough', true);
      gtag('js', new Date());
    },
    update: function () { gtag('consent', 'update', consentState()); },
    setup: function (id) {
      w['ga-disable-' + id] = false;
      if (started[id]) return;
      started[id] = 1;
      loadScript('https://www.googletagmanager.com/gtag/js?id=' + encodeURIComponent(id) + '&l=' + LAYER);
      gtag('config', id, {send_page_view: false});
    },
    // gtag.js honours ga-disable-<id> for every later hit of that id (queued automatic hits aside:
    // the consent update and the firewall stop those).
    disable: function (prefix) { for (var id in started) if (id.indexOf(prefix) === 0) w['ga-disable-' + id] = true; }
  };
})();

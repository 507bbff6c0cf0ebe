/*
 * TEST STAND-IN for LinkedIn's https://snap.licdn.com/li.lms-analytics/insight.min.js (the Insight Tag).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the
 * tests run offline). Deliberately NOT kinder than it.
 *
 * From LinkedIn's public documentation (the Insight Tag snippet and its noscript image):
 *  - `_linkedin_partner_id` and `window._linkedin_data_partner_ids` (an array) are set BEFORE this file
 *    loads; it reads them when it runs (partner ids added later are not seen). The snippet's queue is
 *    `window.lintrk = function (a, b) { lintrk.q.push([a, b]) }` with lintrk.q = []; this file replays the
 *    queue, then lintrk() runs calls at once.
 *  - On load it sends a page view for every partner id by itself (no call needed): a GET image to
 *    https://px.ads.linkedin.com/collect with pid=<partner id> (the noscript form is
 *    /collect/?pid=<id>&fmt=gif).
 *  - lintrk('track', {conversion_id}) sends that conversion, for every partner id.
 *  - li_fat_id: the click id an ad appends to the landing URL (&li_fat_id=), kept as a first-party cookie.
 *  - No consent call exists: nothing stops the library once it runs but the page (a firewall).
 * Our best reading (not confirmed from public docs): the query's other fields (v=2, fmt=js, time=<ms>,
 *  url=<page URL>, conversionId=<id>, value, currency and eventId for conversion_value, currency and
 *  event_id), the `ln_or` cookie written on load, one request per conversion and partner id, and no
 *  page view of its own on history changes.
 */
(function () {
  if (window._tgLinkedinStub) return;
  window._tgLinkedinStub = true;

  var partners = [];
  var lastTime = 0;
  function add(id) { id = id == null ? '' : String(id); if (id && partners.indexOf(id) === -1) partners.push(id); }
  add(window._linkedin_partner_id);
  (Array.isArray(window._linkedin_data_partner_ids) ? window._linkedin_data_partner_ids : []).forEach(add);

  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  var click = /[?&]li_fat_id=([^&#]+)/.exec(location.search);
  if (click) document.cookie = 'li_fat_id=' + click[1] + '; path=/; max-age=2592000; SameSite=Lax';
  if (!readCookie('ln_or')) document.cookie = 'ln_or=d; path=/; max-age=86400; SameSite=Lax';

  function send(pid, extra) {
    lastTime = Math.max(Date.now(), lastTime + 1);
    var q = ['v=2', 'fmt=js', 'pid=' + encodeURIComponent(pid)];
    Object.keys(extra).forEach(function (k) { if (extra[k] != null) q.push(k + '=' + encodeURIComponent(String(extra[k]))); });
    q.push('time=' + lastTime, 'url=' + encodeURIComponent(location.href));
    var fat = readCookie('li_fat_id');
    if (fat) q.push('li_fat_id=' + encodeURIComponent(fat));
    new Image(1, 1).src = 'https://px.ads.linkedin.com/collect?' + q.join('&');
  }

  function call(a, b) {
    if (a !== 'track' || !b || typeof b !== 'object' || b.conversion_id == null) return;
    partners.forEach(function (pid) {
      send(pid, {conversionId: b.conversion_id, value: b.conversion_value, currency: b.currency, eventId: b.event_id});
    });
  }

  partners.forEach(function (pid) { send(pid, {}); });  // the page view, by itself
  var base = window.lintrk, queued = base && Array.isArray(base.q) ? base.q.splice(0, base.q.length) : [];
  var lintrk = window.lintrk = function (a, b) { call(a, b); };
  lintrk.q = {push: function (args) { call(args[0], args[1]); }};
  if (base) base.q = lintrk.q;
  queued.forEach(function (args) { call(args[0], args[1]); });
})();

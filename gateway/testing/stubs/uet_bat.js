/*
 * TEST STAND-IN for Microsoft's https://bat.bing.com/bat.js (Microsoft Advertising UET).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the
 * tests run offline). Deliberately NOT kinder than it.
 *
 * From Microsoft's public documentation (and the standard snippet):
 *  - The page's snippet makes `window.uetq = window.uetq || []` BEFORE this file loads and pushes onto it;
 *    this file defines `UET`; the snippet's onload runs `o = {ti, enableAutoSpaTracking}; o.q = uetq;
 *    uetq = new UET(o); uetq.push('pageLoad')`. The constructor replays the array; the instance's push then
 *    runs calls at once. A page without the snippet's onload gets nothing.
 *  - The array is flat: uetq.push('consent', 'default'|'update', {ad_storage}) and uetq.push('event',
 *    ACTION, {event_category, event_label, event_value, revenue_value, currency, ...}) push 3 items,
 *    'pageLoad' one.
 *  - UET consent mode: one signal, ad_storage. While it is denied the library neither reads nor writes
 *    its first-party cookies (_uetsid, _uetvid, _uetmsclkid), so requests carry no session/visitor ids;
 *    requests still go out, marked asc=D (the firewall, not the library, is what stops them). Granted: the
 *    cookies are written and read, asc=G. Without any consent call the state is granted (Microsoft's
 *    default outside the EEA, UK and Switzerland; inside it is denied server-side, not modelled here).
 *  - Conversions and page views go to bat.bing.com/action/0 as GET images with ti, evt (pageLoad or custom),
 *    ea (event action), ec, el, ev, gv (revenue value), gc (currency), sid, vid, asc.
 * Our best reading (not confirmed from public docs): mid (a uuid per page view), Ver=2, p (page URL),
 *  r (referrer), tl (title), rn (random), the names prodid / pagetype for ecomm_prodid / ecomm_pagetype,
 *  transaction_id passed as it is, the cookie formats (_uetsid/_uetvid: 32 hex digits), and a second
 *  `new UET` whose q is an instance forwarding events to the earlier instance.
 */
(function () {
  if (typeof window.UET === 'function') return;

  var FIELDS = {event_category: 'ec', event_label: 'el', event_value: 'ev', revenue_value: 'gv', currency: 'gc',
                ecomm_prodid: 'prodid', ecomm_pagetype: 'pagetype'};
  var granted = true;   // no consent call: granted
  var mid = hex(32);

  function hex(n) { var s = ''; while (s.length < n) s += Math.floor(Math.random() * 16).toString(16); return s; }
  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  function cookie(name, maxAge, make) {
    if (!granted) return null;  // denied: never read, never written
    var value = readCookie(name);
    if (!value) {
      value = make();
      document.cookie = name + '=' + value + '; path=/; max-age=' + maxAge + '; SameSite=Lax';
    }
    return value;
  }
  function clickId() {
    var m = /[?&]msclkid=([^&#]+)/.exec(location.search);
    if (m && granted) document.cookie = '_uetmsclkid=_uet' + decodeURIComponent(m[1]) + '; path=/; max-age=7776000; SameSite=Lax';
    return m ? decodeURIComponent(m[1]) : 'N';
  }

  function send(ti, fields) {
    var q = ['ti=' + encodeURIComponent(ti), 'Ver=2', 'mid=' + mid];
    var sid = cookie('_uetsid', 86400, function () { return hex(32); });
    var vid = cookie('_uetvid', 33696000, function () { return hex(32); });
    if (sid) q.push('sid=' + sid);
    if (vid) q.push('vid=' + vid);
    Object.keys(fields).forEach(function (k) {
      var v = fields[k];
      if (v == null) return;
      q.push(encodeURIComponent(k) + '=' + encodeURIComponent(Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v)));
    });
    q.push('msclkid=' + encodeURIComponent(clickId()), 'asc=' + (granted ? 'G' : 'D'), 'p=' + encodeURIComponent(location.href),
           'r=' + encodeURIComponent(document.referrer), 'tl=' + encodeURIComponent(document.title), 'rn=' + Math.floor(Math.random() * 1e6));
    new Image(1, 1).src = 'https://bat.bing.com/action/0?' + q.join('&');
  }

  function UET(o) {
    this.ti = String(o.ti || '');
    this.prev = o.q instanceof UET ? o.q : null;
    var queued = Array.isArray(o.q) ? o.q.slice() : [];
    for (var i = 0; i < queued.length;) {
      var item = queued[i];
      if (item === 'consent' || item === 'event') { this.call([item, queued[i + 1], queued[i + 2]]); i += 3; }
      else if (item === 'set') { i += 2; }
      else { this.call([item]); i += 1; }
    }
  }
  UET.prototype.push = function () { this.call(Array.prototype.slice.call(arguments)); };
  UET.prototype.call = function (args, forwarded) {
    var what = args[0];
    if (what === 'consent') {
      var state = args[2] && args[2].ad_storage;
      if (state === 'granted' || state === 'denied') granted = state === 'granted';
    } else if (what === 'pageLoad') {
      if (!forwarded) send(this.ti, {evt: 'pageLoad'});
    } else if (what === 'event' && typeof args[1] === 'string') {
      var fields = {evt: 'custom', ea: args[1]}, data = args[2] || {};
      Object.keys(data).forEach(function (k) { fields[FIELDS[k] || k] = data[k]; });
      send(this.ti, fields);
    } else if (what && typeof what === 'object') {  // the legacy form: push({ea, ec, el, ev, gv, gc})
      var legacy = {evt: 'custom'};
      Object.keys(what).forEach(function (k) { legacy[k] = what[k]; });
      send(this.ti, legacy);
    }
    if (this.prev && what !== 'consent') this.prev.call(args, true);
  };
  window.UET = UET;
})();

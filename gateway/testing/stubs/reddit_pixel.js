/*
 * TEST STAND-IN for Reddit's https://www.redditstatic.com/ads/pixel.js (the Reddit Pixel).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the
 * tests run offline). Deliberately NOT kinder than it.
 *
 * From Reddit's public documentation (the base code and its events):
 *  - Base code: window.rdt = function () { p.sendEvent ? p.sendEvent.apply(p, arguments)
 *    : p.callQueue.push(arguments) } with rdt.callQueue = [], defined BEFORE this file loads. On load the
 *    library sets rdt.sendEvent and replays the queue in order; later calls run at once.
 *  - rdt('init', PIXEL_ID[, {optOut, useDecimalCurrencyValues, email, ...}]) registers the pixel and writes
 *    the first-party `_rdt_uuid` cookie (the browser's id); an ad's &rdt_cid= click id is kept too. init
 *    alone sends nothing: the base code tracks PageVisit explicitly.
 *  - rdt('track', EVENT, {value, currency, itemCount, products, conversionId}) with the standard events
 *    PageVisit, ViewContent, Search, AddToCart, AddToWishlist, Purchase, Lead, SignUp, and
 *    rdt('track', 'Custom', {customEventName}); conversionId de-duplicates against the Conversions API.
 *    Before any init it sends nothing; it goes to every initialised pixel.
 *  - Beacons go to alb.reddit.com. No consent call exists (optOut is the CCPA opt-out flag).
 * Our best reading (not confirmed from public docs): the request itself, a GET image to
 *  https://alb.reddit.com/rp.gif?ts=<ms>&id=<pixel>&event=<event>&m.<key>=<value> (objects as JSON)
 *  &uuid=<_rdt_uuid>&integration=reddit&opt_out=0|1&sh=&sw=&v=, and the `_rdt_uuid` format <ms>.<uuid>.
 */
(function () {
  var rdt = window.rdt;
  if (typeof rdt !== 'function' || !rdt.callQueue || rdt.sendEvent) return;

  var VERSION = 'rdt_tg_stub';
  var pixels = [], optOut = false, lastTs = 0;

  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  function uuid() {
    var value = readCookie('_rdt_uuid');
    if (!value) {
      value = Date.now() + '.' + 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, function () { return (Math.random() * 16 | 0).toString(16); });
      document.cookie = '_rdt_uuid=' + value + '; path=/; max-age=7776000; SameSite=Strict';
    }
    return value;
  }

  function send(id, event, data) {
    lastTs = Math.max(Date.now(), lastTs + 1);
    var q = ['ts=' + lastTs, 'id=' + encodeURIComponent(id), 'event=' + encodeURIComponent(event)];
    Object.keys(data || {}).forEach(function (k) {
      var v = data[k];
      if (v == null) return;
      q.push('m.' + encodeURIComponent(k) + '=' + encodeURIComponent(typeof v === 'object' ? JSON.stringify(v) : String(v)));
    });
    q.push('uuid=' + encodeURIComponent(uuid()), 'integration=reddit', 'opt_out=' + (optOut ? 1 : 0),
           'sh=' + screen.height, 'sw=' + screen.width, 'v=' + VERSION);
    new Image(1, 1).src = 'https://alb.reddit.com/rp.gif?' + q.join('&');
  }

  function handle(args) {
    var method = args[0];
    if (method === 'init') {
      var id = String(args[1] || '');
      if (args[2] && typeof args[2] === 'object' && 'optOut' in args[2]) optOut = !!args[2].optOut;
      if (id && pixels.indexOf(id) === -1) {
        pixels.push(id);
        uuid();
        var click = /[?&]rdt_cid=([^&#]+)/.exec(location.search);
        if (click) document.cookie = '_rdt_cid=' + click[1] + '; path=/; max-age=7776000; SameSite=Strict';
      }
    } else if (method === 'track' && typeof args[1] === 'string' && args[1]) {
      var event = args[1], data = args[2];
      pixels.forEach(function (id) { send(id, event, data); });
    }
    // other commands (e.g. 'disableFirstPartyCookies') change nothing the tests look at
  }

  var queued = rdt.callQueue.splice(0, rdt.callQueue.length);
  rdt.sendEvent = function () { handle(Array.prototype.slice.call(arguments)); };
  queued.forEach(function (args) { handle(Array.prototype.slice.call(args)); });
})();

/*
 * TEST STAND-IN for Pinterest's https://s.pinimg.com/ct/core.js (the Pinterest Tag).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the
 * tests run offline). Written for the tests from Pinterest's public descriptions of the tag; deliberately
 * NOT kinder than it:
 *
 *  - Base code: window.pintrk = function () { pintrk.queue.push([...arguments]) } with pintrk.queue = [] and
 *    pintrk.version = '3.0', defined BEFORE this file loads. On load every queued call is replayed in order,
 *    then pintrk() runs calls at once. A page without the base code gets nothing.
 *  - pintrk('load', TAG_ID[, {em: ...}]): registers the tag id and sends `init` for it (once per id).
 *    pintrk('set', {...}) merges partner data (np, em, ...) into `pd` of every later request.
 *  - pintrk('page'[, data]) sends `pagevisit`; pintrk('track', EVENT, data) sends EVENT lower-cased. Both
 *    go to EVERY loaded tag id (the tag has no per-id track). Calls before any `load` send nothing.
 *  - Transport: one GET image per event and tag id to https://ct.pinterest.com/v3/ with the query
 *    event=<name>&ed=<JSON event data, e.g. value, currency, order_id, line_items, event_id>&tid=<tag id>
 *    &pd=<JSON partner data>&ad=<JSON: loc, ref, if, sh, sw, mh>&cb=<ms>; `ed` only when there is data.
 *    Every request has a fresh cb (cache buster), so no event is ever a cached image URL.
 *  - Cookie: `_pin_unauth` (first-party anonymous visitor id) is written on the first `load`.
 *  - No consent call exists: nothing stops the library once it runs but the page (a firewall).
 */
(function () {
  var base = window.pintrk;
  if (typeof base !== 'function' || !base.queue || base.__tgStubLoaded) return;

  var tags = [];            // loaded tag ids, in load order
  var partner = {};         // pintrk('set', ...) data
  var lastCb = 0;

  function cacheBuster() {
    lastCb = Math.max(Date.now(), lastCb + 1);
    return lastCb;
  }

  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  function unauth() {
    var value = readCookie('_pin_unauth');
    if (!value) {
      value = btoa(JSON.stringify({v: Math.random().toString(36).slice(2)})).replace(/=+$/, '');
      document.cookie = '_pin_unauth=' + value + '; path=/; max-age=31536000; SameSite=Lax';
    }
    return value;
  }

  function autoData() {
    return {loc: location.href, ref: document.referrer, 'if': window.top !== window,
            sh: screen.height, sw: screen.width, mh: unauth().slice(0, 8)};
  }

  function send(tid, name, data) {
    var query = ['event=' + encodeURIComponent(name)];
    if (data && Object.keys(data).length) query.push('ed=' + encodeURIComponent(JSON.stringify(data)));
    query.push('tid=' + encodeURIComponent(tid), 'pd=' + encodeURIComponent(JSON.stringify(partner)),
               'ad=' + encodeURIComponent(JSON.stringify(autoData())), 'cb=' + cacheBuster());
    new Image(1, 1).src = 'https://ct.pinterest.com/v3/?' + query.join('&');
  }

  function each(name, data) { tags.forEach(function (tid) { send(tid, name, data); }); }

  function call(args) {
    var method = args[0];
    switch (method) {
      case 'load':
        var tid = String(args[1] || '');
        if (!tid || tags.indexOf(tid) !== -1) return;
        tags.push(tid);
        if (args[2] && typeof args[2] === 'object') for (var k in args[2]) partner[k] = args[2][k];
        unauth();
        send(tid, 'init');
        return;
      case 'set':
        if (args[1] && typeof args[1] === 'object') for (var key in args[1]) partner[key] = args[1][key];
        return;
      case 'page':
        each('pagevisit', args[1]);
        return;
      case 'track':
        if (typeof args[1] === 'string' && args[1]) each(args[1].toLowerCase(), args[2]);
        return;
      default:
        return;  // unknown commands are ignored, as by the real tag
    }
  }

  // The base code's function stays usable (it pushes onto its queue): both queues run calls at once now.
  var queued = base.queue.splice(0, base.queue.length);
  var runNow = {push: function (args) { call(Array.prototype.slice.call(args)); }};
  var pintrk = window.pintrk = function () { call(Array.prototype.slice.call(arguments)); };
  pintrk.queue = base.queue = runNow;
  pintrk.version = base.version;
  pintrk.__tgStubLoaded = base.__tgStubLoaded = true;
  queued.forEach(function (args) { call(Array.prototype.slice.call(args)); });
})();

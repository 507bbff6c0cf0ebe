/*
 * TEST STAND-IN for Snap's https://sc-static.net/scevent.min.js (the Snap Pixel).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the
 * tests run offline). Written for the tests from Snap's public descriptions of the pixel; deliberately
 * NOT kinder than it:
 *
 *  - Base code: window.snaptr = function () { a.handleRequest ? a.handleRequest.apply(a, arguments)
 *    : a.queue.push(arguments) } with snaptr.queue = [], defined BEFORE this file loads. On load the
 *    library sets snaptr.handleRequest and replays the queue in order; later calls run at once.
 *  - snaptr('init', PIXEL_ID[, {user_email: ...}]): registers the pixel (once per id) and writes the
 *    first-party `_scid` cookie (visitor id). init alone sends nothing.
 *  - snaptr('track', EVENT, data) goes to EVERY initialised pixel (no per-pixel track); before any init
 *    it sends nothing.
 *  - Transport: one POST per event and pixel to https://tr.snapchat.com/p, form-encoded (sendBeacon,
 *    fetch keepalive as fallback): pid, ev, v, ts (ms), u_c1 (_scid), m_pl (page URL), m_rd (referrer),
 *    and the event's data: e_pr (price), e_cur (currency), e_tid (transaction_id), e_iids (item_ids as
 *    JSON), e_ni (number_items), e_desc (description), cdid (client_dedup_id); other keys as e_<key>.
 *  - No consent call exists: nothing stops the library once it runs but the page (a firewall).
 */
(function () {
  var snaptr = window.snaptr;
  if (typeof snaptr !== 'function' || !snaptr.queue || snaptr.handleRequest) return;

  var VERSION = '1.0.0-tg-stub';
  var FIELDS = {price: 'e_pr', currency: 'e_cur', transaction_id: 'e_tid', item_ids: 'e_iids',
                number_items: 'e_ni', description: 'e_desc', client_dedup_id: 'cdid'};
  var pixels = [];
  var lastTs = 0;

  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  function scid() {
    var value = readCookie('_scid');
    if (!value) {
      value = 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, function () { return (Math.random() * 16 | 0).toString(16); });
      document.cookie = '_scid=' + value + '; path=/; max-age=33696000; SameSite=Lax';
    }
    return value;
  }

  function send(pid, event, data) {
    lastTs = Math.max(Date.now(), lastTs + 1);
    var body = new URLSearchParams();
    body.append('pid', pid);
    body.append('ev', event);
    body.append('v', VERSION);
    body.append('ts', String(lastTs));
    body.append('u_c1', scid());
    body.append('m_pl', location.href);
    body.append('m_rd', document.referrer);
    Object.keys(data || {}).forEach(function (key) {
      var value = data[key];
      if (value == null) return;
      body.append(FIELDS[key] || 'e_' + key, typeof value === 'object' ? JSON.stringify(value) : String(value));
    });
    var url = 'https://tr.snapchat.com/p', sent = false;
    try { sent = navigator.sendBeacon && navigator.sendBeacon(url, body); } catch (e) { sent = false; }
    if (!sent) fetch(url, {method: 'POST', mode: 'no-cors', keepalive: true, credentials: 'include', body: body}).catch(function () {});
  }

  function handle(args) {
    var method = args[0];
    if (method === 'init') {
      var pid = String(args[1] || '');
      if (pid && pixels.indexOf(pid) === -1) { pixels.push(pid); scid(); }
    } else if (method === 'track' && typeof args[1] === 'string' && args[1]) {
      var event = args[1], data = args[2];
      pixels.forEach(function (pid) { send(pid, event, data); });
    }
    // other commands (e.g. 'set') change nothing the tests look at
  }

  var queued = snaptr.queue.splice(0, snaptr.queue.length);
  snaptr.handleRequest = function () { handle(Array.prototype.slice.call(arguments)); };
  queued.forEach(function (args) { handle(Array.prototype.slice.call(args)); });
})();

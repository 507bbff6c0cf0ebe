/*
 * TEST STAND-IN for X's https://static.ads-twitter.com/uwt.js (the X / Twitter Pixel).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the
 * tests run offline). Deliberately NOT kinder than it.
 *
 * From X's public documentation (the base code and its events):
 *  - Base code: window.twq = function () { s.exe ? s.exe.apply(s, arguments) : s.queue.push(arguments) }
 *    with twq.version = '1.1' and twq.queue = [], defined BEFORE this file loads. On load the library sets
 *    twq.exe and replays the queue in order; later calls run at once.
 *  - twq('config', PIXEL_ID) configures the pixel and sends its page view by itself, once per page and id.
 *  - twq('event', 'tw-<pixel id>-<event id>', {value, currency, contents, num_items, conversion_id,
 *    email_address, ...}): conversion_id is X's de-duplication key.
 *  - _twclid: the click id an ad appends to the landing URL (&twclid=), kept as a first-party cookie.
 *  - Beacons go to analytics.twitter.com and t.co. No consent call exists.
 * Our best reading (not confirmed from public docs): each event is one GET image to
 *  https://analytics.twitter.com/1/i/adsct and the same query to https://t.co/1/i/adsct, with
 *  txn_id=<pixel id>, p_id=Twitter, p_user_id=0, pl_id=<uuid per page>, type=javascript, version,
 *  integration=advertiser, tw_document_href, tw_iframe_status, and for the page view
 *  events=[["pageview",{}]], for an event event_id=<tw-...> and event=<JSON data>; an event is sent for the
 *  pixel its id names whether or not that pixel was configured.
 */
(function () {
  var twq = window.twq;
  if (typeof twq !== 'function' || !twq.queue || twq.exe) return;

  var VERSION = '2.3.tg-stub';
  var configured = [];
  var plId = 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, function () { return (Math.random() * 16 | 0).toString(16); });

  var click = /[?&]twclid=([^&#]+)/.exec(location.search);
  function rememberClick() {
    if (click) document.cookie = '_twclid=' + encodeURIComponent(JSON.stringify({t: Date.now(), v: decodeURIComponent(click[1])})) +
      '; path=/; max-age=63072000; SameSite=Lax';
  }

  function send(pixel, fields) {
    var q = ['bci=4', 'eci=3'];
    Object.keys(fields).forEach(function (k) { q.push(k + '=' + encodeURIComponent(fields[k])); });
    q.push('integration=advertiser', 'p_id=Twitter', 'p_user_id=0', 'pl_id=' + plId,
           'tw_document_href=' + encodeURIComponent(location.href), 'tw_iframe_status=' + (window.top !== window ? 1 : 0),
           'txn_id=' + encodeURIComponent(pixel), 'type=javascript', 'version=' + VERSION);
    var query = q.join('&');
    new Image(1, 1).src = 'https://analytics.twitter.com/1/i/adsct?' + query;
    new Image(1, 1).src = 'https://t.co/1/i/adsct?' + query;
  }

  function handle(args) {
    var method = args[0];
    if (method === 'config') {
      var pixel = String(args[1] || '');
      if (!pixel || configured.indexOf(pixel) !== -1) return;
      configured.push(pixel);
      rememberClick();
      send(pixel, {events: JSON.stringify([['pageview', {}]])});
    } else if (method === 'event' && typeof args[1] === 'string') {
      var m = /^tw-([a-z0-9]+)-([a-z0-9]+)$/.exec(args[1]);
      if (!m) return;
      send(m[1], {event: JSON.stringify(args[2] || {}), event_id: args[1], events: '[]'});
    }
  }

  var queued = twq.queue.splice(0, twq.queue.length);
  twq.exe = function () { handle(Array.prototype.slice.call(arguments)); };
  queued.forEach(function (args) { handle(Array.prototype.slice.call(args)); });
})();

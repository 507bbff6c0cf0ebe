/* Server-side forwarding (README "Server-side forwarding"): in the container only when a tag has
 * `server_side` (CONFIG tag.ss, 'also' or 'only'; gateway/triggers.py runtime_files).
 *
 * Each time such a tag fires, the occurrence also goes to the gateway's POST /collect, which checks the
 * visitor's consent token and region itself and forwards the event to the vendor's server API. The send
 * happens inside the tag's own `fire`, which the runtime calls only for a tag that may fire (mayFire,
 * its trigger, its rules) and, for an occurrence held until the choice, once when it is replayed: so
 * nothing is sent before a choice where one is needed, after Reject all, after a withdrawal, or for a
 * refused vendor, and nothing is sent twice.
 *
 * It wraps the `fire` of the vendors that have a server API, here, before runtime.js starts, so neither
 * the runtime nor the adapters carry a byte for it when no tag uses it:
 * - `only`: the browser adapter is not called, so its library is never even downloaded for that tag
 *   (other tags of the vendor keep theirs);
 * - `also`: the browser pixel and /collect get the same event id, so the vendor counts the event once:
 *   the transaction id for a purchase, else a random id made once per occurrence (every tag handling
 *   it shares it). While the adapter fires, orderId() (tags/ecommerce.js) answers that id, which the
 *   Meta and TikTok adapters already pass as eventID / event_id. (TikTok's page view: ttq.page() takes no
 *   id, so such a tag is compiled as ttq.track('Pageview', ...) instead, gateway/config.py.)
 *
 * `event_time` is when the occurrence happened (stamped below as runtime.js records it), also for one held
 * until the visitor's choice.
 *
 * `params` is what the browser pixel gets for the same occurrence: the tag's own `params` resolved, else
 * what the adapter derives from a GA4 `ecommerce` push (its `data`, e.g. Meta's contents and num_items),
 * else the `ecommerce` object itself (GA4). So the server maps nothing, and both sides hold the same data.
 *
 * fetch with keepalive, so a purchase on a page the visitor leaves at once still arrives. Not
 * navigator.sendBeacon: it cannot send the consent header, and a JSON body is not a CORS-safelisted
 * type, so a beacon to a gateway on another origin would be refused. */
(function () {
  // The vendors with a server API, and their first-party cookies /collect may use (the ids that match
  // the server event to the browser's: Meta's browser id and click id, TikTok's, GA4's client id).
  var COOKIES = map(), eventId;
  COOKIES.meta_pixel = ['_fbp', '_fbc'];
  COOKIES.tiktok_pixel = ['_ttp', 'ttclid'];
  COOKIES.ga4 = ['_ga'];

  var order = orderId;
  orderId = function (occ) { return eventId || order(occ); };

  // The time of the occurrence itself, taken when it happens (runtime.js traces each new occurrence once, alone,
  // in occur()): a purchase held until the visitor's choice is sent with the time of the purchase, not that of
  // the choice, and no other container pays a byte for it.
  var traced = trace;
  trace = function (occ) {
    if (arguments.length < 2) occ.at = Date.now();
    traced.apply(null, arguments);
  };

  function randomId() {
    var bytes = new Uint8Array(16), out = '';
    crypto.getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return out;
  }

  function collect(tag, occ, id, kind) {
    var headers = {'Content-Type': 'application/json'}, token = readCookie(COOKIE.name), jar = {};
    if (token) headers['X-Tag-Gateway-Consent'] = token; // as runtime.js request() sends it
    COOKIES[tag.kind].forEach(function (name) { var v = readCookie(name); if (v != null) jar[name] = v; });
    var params = tag.params ? resolve(tag.params, occ) : kind.data ? kind.data(occ) : ecommerceOf(occ);
    // user_data (e-mail, phone): only here, never to the browser pixel; the gateway hashes them. Empty ones stay out.
    var user = {}, given = tag.ud ? resolve(tag.ud, occ) : {};
    for (var k in given) if (text(given[k])) user[k] = text(given[k]);
    var body = JSON.stringify({tag: tag.id, event_id: id, event_time: Math.floor((occ.at || Date.now()) / 1e3), page: occ.page.url,
                               referrer: occ.page.referrer, params: params || {}, user: user, cookies: jar});
    function post(keepalive) {
      return fetch(BASE + '/collect', {method: 'POST', keepalive: keepalive, credentials: 'include', headers: headers, body: body});
    }
    // Older Chromium refuses keepalive on a request that needs a CORS preflight (a gateway on another origin):
    // then once more without it. A request that did arrive is not counted twice: the gateway drops an event id
    // it has seen.
    post(true).catch(function () { return post(false); })
      .then(function (r) { if (!r.ok) warn('POST /collect for ' + tag.id + ': ' + r.status); },
            function (err) { warn('could not send ' + tag.id + ' to /collect', err); });
  }

  function wrap(kind) {
    var fire = kind.fire;
    kind.fire = function (tag, occ) {
      if (!tag.ss) return fire.call(kind, tag, occ);
      var id = occ.eid = occ.eid || order(occ) || randomId();
      collect(tag, occ, id, kind);
      if (tag.ss === 'only') return;
      eventId = id;
      try { fire.call(kind, tag, occ); } finally { eventId = null; }
    };
  }
  for (var name in COOKIES) if (KINDS[name]) wrap(KINDS[name]);
})();

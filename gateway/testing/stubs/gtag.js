/*
 * TEST STAND-IN for Google's https://www.googletagmanager.com/gtag/js?id=...&l=LAYER (GA4 + Google Ads).
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the tests run offline). Written for the
 * tests from public descriptions of what the real library sends; it models the behaviour that matters
 * to a consent gateway, and is deliberately NOT kinder than the real library:
 *
 *  - Data layer: the real gtag.js gets its data-layer name from Google's server (the `l` parameter is
 *    baked into the file it serves). Likewise the recorder substitutes the request's `l` value (default
 *    `dataLayer`) for the placeholder below; nothing here reads document.currentScript or the DOM for it.
 *    Entries already on the layer are replayed, later push()es are processed as they come.
 *  - GA4 transport: hits are queued and sent in batches, POST https://region1.google-analytics.com/g/collect
 *    ?v=2&tid=G-..&gtm=..&_p=..&cid=..&gcs=..&gcd=..&dl=..&dt=..  (shared parameters in the query) via
 *    navigator.sendBeacon (fetch keepalive as fallback). A batch of one event carries its event
 *    parameters (en=..&ep.x=..) in the query and an empty body; a batch of several carries one event per
 *    body line. A batch is sent BATCH_MS after its first event became due, or at pagehide.
 *  - window['ga-disable-<id>'] === true is checked when an event is QUEUED (as the real library does),
 *    not when its batch is sent: an event queued before the flag was set still goes out.
 *  - Enhanced measurement: when the config for a measurement id is processed, an automatic `scroll`
 *    event (epn.percent_scrolled=90) is queued for it right away and becomes due SCROLL_DELAY_MS later
 *    (the real library sends it when the visitor scrolls to 90 %; a timer keeps the tests deterministic).
 *    Being queued at config time, it is NOT stopped by a ga-disable flag set afterwards.
 *  - Consent Mode v2: gtag('consent','default'|'update',{...}). Once any consent command was seen every
 *    hit carries gcs=G1<ad_storage><analytics_storage> (1 granted, 0 denied, '-' not set). Every hit
 *    carries gcd: '1' + per signal (ad_storage, analytics_storage, ad_user_data, ad_personalization) the
 *    separator '3' and a letter (l not set, p default denied, t default granted, m/n update denied/granted
 *    without default, q/r denied default then denied/granted update, u/v granted default then
 *    denied/granted update), then '5' when consent mode is active else '1', then 'l1':
 *    without any consent command gcd=13l3l3l3l1l1. With analytics_storage denied the hit still goes out
 *    (a cookieless ping with a per-page client id): only a consent firewall stops it. The `_ga` and
 *    `_ga_<id>` first-party cookies are written only while analytics_storage is not denied.
 *  - Google Ads (AW-...): gtag('config','AW-N') sends the remarketing hit GET
 *    https://googleads.g.doubleclick.net/pagead/viewthroughconversion/N/?... unless send_page_view:false;
 *    an event sent to 'AW-N/LABEL' is a conversion GET https://www.googleadservices.com/pagead/conversion/N/
 *    ?label=LABEL&value=..&currency_code=..&oid=..&gcs=..&gcd=.. ; any other event reaching AW-N is a
 *    remarketing hit with data=event=<name>. Sent as image requests, like the real library's pixels.
 *  - gtag('set', {ads_data_redaction, url_passthrough}) are recorded on hits as `adr`/`up` (stand-in only);
 *    restricted_data_processing as `rdp` on Google Ads hits, as the real library does.
 */
(function () {
  var LAYER_NAME = '__TG_STUB_DATA_LAYER__';  // replaced by the recorder with the request's `l` value
  var BATCH_MS = 300;
  var SCROLL_DELAY_MS = 2500;
  var GTM = '45je4a20v9';

  var layer = window[LAYER_NAME] = window[LAYER_NAME] || [];
  if (layer.__tgStubGtag) return;  // a second copy of the library must not process the layer twice
  layer.__tgStubGtag = true;

  var pageId = String(Math.floor(Math.random() * 2147483647));
  var configs = {};        // measurement / ads id -> config options
  var setFields = {};      // gtag('set', ...)
  var consent = {};        // type -> {def: 'granted'|'denied', upd: ...}
  var consentSeen = false;
  var queue = [];          // {id, due, line-params} waiting for a batch
  var flushTimer = null;
  var hitSeq = 0;
  var sessionStarted = {};
  var ephemeralCid = randomInt() + '.' + nowSeconds();
  var NOT_EVENT_PARAMS = ['send_to', 'event_callback', 'event_timeout', 'items', 'currency', 'groups',
                          'page_location', 'page_title', 'page_referrer', 'transaction_id', 'value'];

  function randomInt() { return Math.floor(Math.random() * 2147483647); }
  function nowSeconds() { return Math.floor(Date.now() / 1000); }
  function isArguments(entry) { return Object.prototype.toString.call(entry) === '[object Arguments]'; }

  // ---------------------------------------------------------------- consent mode

  var TYPES = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization',
               'functionality_storage', 'personalization_storage', 'security_storage'];

  function state(type) {
    var c = consent[type];
    if (!c) return undefined;
    return c.upd !== undefined ? c.upd : c.def;
  }
  function denied(type) { return state(type) === 'denied'; }

  function gcsFlag(type) {
    var s = state(type);
    return s === 'granted' ? '1' : s === 'denied' ? '0' : '-';
  }
  function gcs() { return 'G1' + gcsFlag('ad_storage') + gcsFlag('analytics_storage'); }

  function gcdLetter(type) {
    var c = consent[type] || {};
    var table = {
      'undefined/undefined': 'l', 'undefined/denied': 'm', 'undefined/granted': 'n',
      'denied/undefined': 'p', 'denied/denied': 'q', 'denied/granted': 'r',
      'granted/undefined': 't', 'granted/denied': 'u', 'granted/granted': 'v',
    };
    return table[String(c.def) + '/' + String(c.upd)];
  }
  function gcd() {
    var out = '1';
    ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'].forEach(function (t) {
      out += '3' + gcdLetter(t);
    });
    return out + (consentSeen ? '5' : '1') + 'l1';
  }

  function applyConsent(kind, values) {
    if (!values || typeof values !== 'object') return;
    consentSeen = true;
    TYPES.forEach(function (type) {
      var v = values[type];
      if (v !== 'granted' && v !== 'denied') return;
      consent[type] = consent[type] || {};
      if (kind === 'default') consent[type].def = v; else consent[type].upd = v;
    });
    if (!denied('analytics_storage')) Object.keys(configs).forEach(function (id) { if (isGa4(id)) writeGaCookies(id); });
  }

  // ---------------------------------------------------------------- cookies

  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  function writeCookie(name, value, maxAgeSeconds) {
    document.cookie = name + '=' + value + '; path=/; max-age=' + maxAgeSeconds + '; SameSite=Lax';
  }
  function writeGaCookies(id) {
    if (denied('analytics_storage')) return;
    if (!readCookie('_ga')) writeCookie('_ga', 'GA1.1.' + randomInt() + '.' + nowSeconds(), 63072000);
    var suffix = id.replace(/^G-/, '');
    if (!readCookie('_ga_' + suffix)) writeCookie('_ga_' + suffix, 'GS1.1.' + nowSeconds() + '.1.0.' + nowSeconds() + '.0.0.0', 63072000);
  }
  function clientId() {
    if (denied('analytics_storage')) return ephemeralCid;  // cookieless ping: nothing stored
    var ga = readCookie('_ga');
    var m = ga && /^GA\d\.\d\.(.+)$/.exec(ga);
    return m ? m[1] : ephemeralCid;
  }

  // ---------------------------------------------------------------- GA4

  function isGa4(id) { return /^G-/.test(id); }
  function isAds(id) { return /^AW-/.test(id); }

  function itemParam(item) {
    var keys = {item_id: 'id', item_name: 'nm', item_brand: 'br', item_category: 'ca', item_variant: 'va',
                price: 'pr', quantity: 'qt', coupon: 'cp', item_list_name: 'ln', index: 'lp'};
    return Object.keys(keys).filter(function (k) { return item[k] !== undefined && item[k] !== null; })
      .map(function (k) { return keys[k] + item[k]; }).join('~');
  }

  function eventParams(name, params, id) {
    var p = [['en', name]];
    if (!sessionStarted[id]) { sessionStarted[id] = true; p.push(['_ss', '1']); }
    if (params.currency !== undefined) p.push(['cu', String(params.currency)]);
    (Array.isArray(params.items) ? params.items : []).forEach(function (item, i) {
      if (item && typeof item === 'object') p.push(['pr' + (i + 1), itemParam(item)]);
    });
    if (params.transaction_id !== undefined) p.push(['ep.transaction_id', String(params.transaction_id)]);
    if (typeof params.value === 'number') p.push(['epn.value', String(params.value)]);
    else if (params.value !== undefined && params.value !== null) p.push(['epn.value', String(params.value)]);
    Object.keys(params).forEach(function (key) {
      if (NOT_EVENT_PARAMS.indexOf(key) !== -1) return;
      var value = params[key];
      if (typeof value === 'number') p.push(['epn.' + key, String(value)]);
      else if (value !== null && value !== undefined && typeof value !== 'object' && typeof value !== 'function') p.push(['ep.' + key, String(value)]);
    });
    p.push(['_et', '1']);
    return p;
  }

  // The flag is checked here, when the event is queued: not when its batch is sent.
  function queueGa4(id, name, params, delayMs) {
    if (window['ga-disable-' + id] === true) return;
    writeGaCookies(id);
    queue.push({id: id, due: Date.now() + (delayMs || 0), params: eventParams(name, params || {}, id),
                dl: (params && params.page_location) || location.href,
                dt: (params && params.page_title) || document.title,
                dr: (params && params.page_referrer) || document.referrer});
    schedule();
  }

  // A batch goes out BATCH_MS after the first of its events became due: events queued meanwhile join it.
  var flushAt = Infinity;
  function schedule() {
    if (!queue.length) return;
    var firstDue = Math.min.apply(null, queue.map(function (e) { return e.due; }));
    var at = Math.max(firstDue, Date.now()) + BATCH_MS;
    if (flushTimer !== null && flushAt <= at) return;
    if (flushTimer !== null) clearTimeout(flushTimer);
    flushAt = at;
    flushTimer = setTimeout(function () { flushTimer = null; flushAt = Infinity; flush(); schedule(); }, at - Date.now());
  }

  function encode(pairs) {
    return pairs.map(function (kv) { return encodeURIComponent(kv[0]) + '=' + encodeURIComponent(kv[1]); }).join('&');
  }

  function flush() {
    var now = Date.now();
    var due = queue.filter(function (e) { return e.due <= now; });
    queue = queue.filter(function (e) { return due.indexOf(e) === -1; });
    // The page (dl, dt, dr) is in a request's query, shared by its events: events of different pages
    // (a single-page store that moved on) never share a request.
    var batches = {};
    due.forEach(function (e) { var key = JSON.stringify([e.id, e.dl, e.dt, e.dr]); (batches[key] = batches[key] || []).push(e); });
    Object.keys(batches).forEach(function (key) { sendBatch(batches[key][0].id, batches[key]); });
  }

  function sendBatch(id, events) {
    var first = events[0];
    var shared = [['v', '2'], ['tid', id], ['gtm', GTM], ['_p', pageId]];
    if (consentSeen) shared.push(['gcs', gcs()]);
    shared.push(['gcd', gcd()]);
    if (state('ad_personalization') !== undefined) shared.push(['npa', denied('ad_personalization') ? '1' : '0']);
    if (setFields.ads_data_redaction !== undefined) shared.push(['adr', setFields.ads_data_redaction ? '1' : '0']);
    if (setFields.url_passthrough !== undefined) shared.push(['up', setFields.url_passthrough ? '1' : '0']);
    shared.push(['cid', clientId()], ['ul', (navigator.language || '').toLowerCase()],
                ['sr', screen.width + 'x' + screen.height], ['_s', String(++hitSeq)],
                ['dl', first.dl], ['dr', first.dr], ['dt', first.dt]);
    var url = 'https://region1.google-analytics.com/g/collect?' + encode(shared);
    var body = '';
    if (events.length === 1) url += '&' + encode(first.params);
    else body = events.map(function (e) { return encode(e.params); }).join('\n');
    transmit(url, body);
  }

  function transmit(url, body) {
    var sent = false;
    try { sent = navigator.sendBeacon && navigator.sendBeacon(url, body); } catch (e) { sent = false; }
    if (!sent) {
      fetch(url, {method: 'POST', body: body, keepalive: true, mode: 'no-cors', credentials: 'include'})
        .catch(function () {});
    }
  }

  // At pagehide the events already due go out; the timed scroll stand-in is not due yet (the visitor
  // never scrolled) and is dropped with the page.
  window.addEventListener('pagehide', function () { flush(); });

  // ---------------------------------------------------------------- Google Ads

  function adsCommon(id, label) {
    var p = [['random', String(randomInt())], ['cv', '11'], ['fst', String(Date.now())], ['bg', 'ffffff'],
             ['guid', 'ON'], ['async', '1'], ['gtm', GTM]];
    if (consentSeen) p.push(['gcs', gcs()]);
    p.push(['gcd', gcd()], ['dma', '0'], ['u_w', String(screen.width)], ['u_h', String(screen.height)]);
    if (label) p.push(['label', label]);
    return p;
  }
  function adsTail(p) {
    p.push(['frm', '0'], ['url', location.href], ['ref', document.referrer], ['tiba', document.title]);
    if (state('ad_personalization') !== undefined) p.push(['npa', denied('ad_personalization') ? '1' : '0']);
    if (setFields.ads_data_redaction !== undefined) p.push(['adr', setFields.ads_data_redaction ? '1' : '0']);
    if (setFields.restricted_data_processing !== undefined) p.push(['rdp', setFields.restricted_data_processing ? '1' : '0']);
    p.push(['rfmt', '3'], ['fmt', '4']);
    return p;
  }
  function pixel(url) { new Image().src = url; }

  function adsConversion(id, label, params) {
    var p = adsCommon(id, label);
    if (params.value !== undefined && params.value !== null) p.push(['value', String(params.value)]);
    if (params.currency !== undefined) p.push(['currency_code', String(params.currency)]);
    if (params.transaction_id !== undefined) p.push(['oid', String(params.transaction_id)]);
    pixel('https://www.googleadservices.com/pagead/conversion/' + id.slice(3) + '/?' + encode(adsTail(p)));
  }
  function adsRemarketing(id, name, params) {
    var p = adsCommon(id);
    var data = ['event=' + name];
    if (params.value !== undefined && params.value !== null) data.push('value=' + params.value);
    if (params.currency !== undefined) data.push('currency_code=' + params.currency);
    p.push(['data', data.join(';')]);
    pixel('https://googleads.g.doubleclick.net/pagead/viewthroughconversion/' + id.slice(3) + '/?' + encode(adsTail(p)));
  }

  // ---------------------------------------------------------------- commands

  function destinations(params) {
    var sendTo = params && params.send_to;
    var list = sendTo ? (Array.isArray(sendTo) ? sendTo : [sendTo]) : Object.keys(configs);
    return list.map(String).filter(function (dest) { return dest.split('/')[0] in configs; });
  }

  function onEvent(name, params) {
    destinations(params).forEach(function (dest) {
      var parts = dest.split('/');
      var id = parts[0];
      if (isGa4(id)) queueGa4(id, name, params);
      else if (isAds(id)) {
        if (parts[1]) adsConversion(id, parts[1], params);
        else adsRemarketing(id, name, params);
      }
    });
    if (typeof params.event_callback === 'function') setTimeout(params.event_callback, 0);
  }

  function onConfig(id, options) {
    var first = !(id in configs);
    configs[id] = options;
    if (!first) return;
    if (isGa4(id)) {
      writeGaCookies(id);
      if (options.send_page_view !== false) queueGa4(id, 'page_view', {});
      // Enhanced measurement: queued now, due later (see the header).
      queueGa4(id, 'scroll', {percent_scrolled: 90}, SCROLL_DELAY_MS);
    } else if (isAds(id)) {
      if (options.send_page_view !== false) adsRemarketing(id, 'page_view', {});
    }
  }

  function process(entry) {
    if (!isArguments(entry)) return;  // plain objects (GTM-style pushes) are not gtag() calls
    var command = entry[0];
    try {
      if (command === 'config' && typeof entry[1] === 'string') onConfig(entry[1], entry[2] || {});
      else if (command === 'event') onEvent(String(entry[1]), entry[2] || {});
      else if (command === 'consent') applyConsent(entry[1], entry[2]);
      else if (command === 'set') {
        if (typeof entry[1] === 'object' && entry[1]) Object.keys(entry[1]).forEach(function (k) { setFields[k] = entry[1][k]; });
        else if (typeof entry[1] === 'string') setFields[entry[1]] = entry[2];
      }
      // 'js' and 'get' need nothing here
    } catch (e) {
      setTimeout(function () { throw e; }, 0);
    }
  }

  var originalPush = layer.push;
  var replay = layer.slice();
  layer.push = function () {
    var result = originalPush.apply(layer, arguments);
    for (var j = 0; j < arguments.length; j++) process(arguments[j]);
    return result;
  };
  for (var i = 0; i < replay.length; i++) process(replay[i]);
})();

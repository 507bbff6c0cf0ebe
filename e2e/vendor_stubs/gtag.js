/*
 * TEST STUB standing in for Google's https://www.googletagmanager.com/gtag/js?id=G-...&l=NAME.
 * Served by the e2e vendor recorder instead of the real library (the tests run offline).
 * It reads the data layer named by its own `l` URL parameter (default `dataLayer`), replays
 * the gtag() calls already queued there (entries that are `arguments` objects), then patches
 * push() to process later ones. It sends GA4 Measurement Protocol v2 hits like the real library:
 *   https://region1.google-analytics.com/g/collect?v=2&tid=G-...&en=EVENT&dl=...&dt=...
 * with string params as ep.KEY, numbers as epn.KEY, currency as cu, items as pr1, pr2, ...
 * Honours window['ga-disable-G-...'] === true (sends nothing for that measurement id).
 */
(function () {
  function ownUrl() {
    var script = document.currentScript;
    if (!script || !/googletagmanager\.com\/gtag\/js/.test(script.src)) {
      script = document.querySelector('script[src*="googletagmanager.com/gtag/js"]');
    }
    return new URL(script ? script.src : 'https://www.googletagmanager.com/gtag/js');
  }

  var layerName = ownUrl().searchParams.get('l') || 'dataLayer';
  var layer = window[layerName] = window[layerName] || [];
  if (layer.__tgStubLoaded) return;  // a second copy of the library must not process twice
  layer.__tgStubLoaded = true;

  var configs = {};       // measurement id -> config options
  var consentState = {};  // consent mode state, reported as gcs like the real library
  var hitCount = 0;       // _s, the hit sequence number of the real library
  var NOT_PARAMS = ['send_to', 'event_callback', 'event_timeout', 'items', 'currency', 'groups'];

  function isArguments(entry) {
    return Object.prototype.toString.call(entry) === '[object Arguments]';
  }

  function itemParam(item) {
    var keys = {item_id: 'id', item_name: 'nm', item_brand: 'br', item_category: 'ca',
                item_variant: 'va', price: 'pr', quantity: 'qt', coupon: 'cp'};
    return Object.keys(keys).filter(function (k) { return item[k] !== undefined; })
      .map(function (k) { return keys[k] + item[k]; }).join('~');
  }

  function gcs() {
    var flag = function (k) { return consentState[k] === 'denied' ? '0' : '1'; };
    return 'G1' + flag('ad_storage') + flag('analytics_storage');
  }

  function sendEvent(measurementId, eventName, params) {
    if (window['ga-disable-' + measurementId] === true) return;
    var query = new URLSearchParams();
    query.set('v', '2');
    query.set('tid', measurementId);
    query.set('_s', String(++hitCount));
    if (Object.keys(consentState).length) query.set('gcs', gcs());
    query.set('en', eventName);
    query.set('dl', window.location.href);
    query.set('dt', document.title);
    params = params || {};
    if (params.currency !== undefined) query.set('cu', String(params.currency));
    (params.items || []).forEach(function (item, i) { query.set('pr' + (i + 1), itemParam(item)); });
    Object.keys(params).forEach(function (key) {
      if (NOT_PARAMS.indexOf(key) !== -1) return;
      var value = params[key];
      if (typeof value === 'number') query.set('epn.' + key, String(value));
      else if (value !== null && value !== undefined && typeof value !== 'object') query.set('ep.' + key, String(value));
    });
    fetch('https://region1.google-analytics.com/g/collect?' + query.toString(), {method: 'GET', mode: 'no-cors'})
      .catch(function () {});
  }

  function targets(params) {
    var sendTo = params && params.send_to;
    if (!sendTo) return Object.keys(configs);
    return (Array.isArray(sendTo) ? sendTo : [sendTo]).filter(function (id) { return id in configs; });
  }

  function process(entry) {
    if (!isArguments(entry)) return;  // plain objects (GTM-style pushes) are not gtag() calls
    var command = entry[0];
    if (command === 'config') {
      var id = entry[1];
      var options = entry[2] || {};
      var first = !(id in configs);
      configs[id] = options;
      if (first && options.send_page_view !== false) sendEvent(id, 'page_view', {});
    } else if (command === 'event') {
      var params = entry[2] || {};
      targets(params).forEach(function (measurementId) { sendEvent(measurementId, entry[1], params); });
      if (typeof params.event_callback === 'function') setTimeout(params.event_callback, 0);
    } else if (command === 'consent') {
      var update = entry[2] || {};
      Object.keys(update).forEach(function (k) { consentState[k] = update[k]; });
    }
    // 'js', 'set', 'get' need nothing in this stub
  }

  var originalPush = layer.push;
  for (var i = 0; i < layer.length; i++) process(layer[i]);
  layer.push = function () {
    var result = originalPush.apply(layer, arguments);
    for (var j = 0; j < arguments.length; j++) process(arguments[j]);
    return result;
  };
})();

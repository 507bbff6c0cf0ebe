/*
 * TEST STUB standing in for TikTok's https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=...&lib=ttq.
 * Served by the e2e vendor recorder instead of the real library (the tests run offline).
 * It processes the calls queued by TikTok's standard base code (on `ttq` itself and on
 * `ttq._i[pixelId]`), replaces the stub methods, and sends events like the real library:
 *   POST https://analytics.tiktok.com/api/v2/pixel
 *   {"event": "...", "context": {"pixel": {"code": ID}, "page": {"url": ...}}, "properties": {...}}
 * page() sends the event "Pageview". holdConsent() buffers events until grantConsent();
 * revokeConsent() drops them and stops sending.
 */
(function () {
  var libName = new URL(document.currentScript ? document.currentScript.src : location.href)
    .searchParams.get('lib') || 'ttq';
  var ttq = window[libName];
  if (!ttq || ttq.__tgStubLoaded) return;
  ttq.__tgStubLoaded = true;
  ttq._i = ttq._i || {};

  var consent = 'granted';  // 'granted' | 'held' | 'revoked'
  var held = [];

  function post(pixelId, eventName, properties) {
    var body = {
      event: eventName,
      context: {pixel: {code: pixelId}, page: {url: window.location.href}},
      properties: properties || {},
    };
    if (consent === 'revoked') return;
    if (consent === 'held') { held.push(body); return; }
    transmit(body);
  }

  function transmit(body) {
    fetch('https://analytics.tiktok.com/api/v2/pixel', {
      method: 'POST',
      mode: 'no-cors',
      headers: {'Content-Type': 'text/plain'},
      body: JSON.stringify(body),
    }).catch(function () {});
  }

  function call(pixelIds, method, args) {
    switch (method) {
      case 'page':
        pixelIds.forEach(function (id) { post(id, 'Pageview', {}); });
        break;
      case 'track':
        pixelIds.forEach(function (id) { post(id, args[0], args[1]); });
        break;
      case 'holdConsent':
        consent = 'held';
        break;
      case 'grantConsent':
        consent = 'granted';
        held.splice(0).forEach(transmit);
        break;
      case 'revokeConsent':
        consent = 'revoked';
        held = [];
        break;
      default:
        break;  // identify, enableCookie, ... are not needed by the tests
    }
  }

  function allPixels() { return Object.keys(ttq._i); }

  function bindMethods(target, pixelIds) {
    (ttq.methods || []).concat(['page', 'track', 'holdConsent', 'grantConsent', 'revokeConsent'])
      .forEach(function (method) {
        target[method] = function () { call(pixelIds(), method, Array.prototype.slice.call(arguments)); return target; };
      });
  }

  function drain(queue, pixelIds) {
    var entries = queue.splice(0, queue.length);
    entries.forEach(function (entry) {
      if (Array.isArray(entry) && typeof entry[0] === 'string') call(pixelIds(), entry[0], entry.slice(1));
    });
  }

  // Calls queued per instance (ttq.instance(id).page()) and globally (ttq.page()).
  Object.keys(ttq._i).forEach(function (id) {
    drain(ttq._i[id], function () { return [id]; });
    bindMethods(ttq._i[id], function () { return [id]; });
  });
  drain(ttq, allPixels);
  bindMethods(ttq, allPixels);

  ttq.instance = function (id) {
    if (ttq._i[id]) return ttq._i[id];
    var unknown = {};  // a pixel that was never load()ed: calls on it send nothing
    bindMethods(unknown, function () { return []; });
    return unknown;
  };
  ttq.load = function (id, options) {
    if (ttq._i[id]) return;
    ttq._i[id] = [];
    bindMethods(ttq._i[id], function () { return [id]; });
    ttq._o = ttq._o || {};
    ttq._o[id] = options || {};
  };
})();

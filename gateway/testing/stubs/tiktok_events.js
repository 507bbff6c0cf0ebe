/*
 * TEST STAND-IN for TikTok's https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=...&lib=ttq.
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the tests run offline). Written for the
 * tests from public descriptions of what the real SDK sends; deliberately NOT kinder than it.
 *
 * Two SDK generations come from this one file (the recorder switches CONSENT_API below):
 *  - default, like SDK 2.1.33: it has NO consent methods. holdConsent / grantConsent / revokeConsent
 *    calls are ignored: they stay the base code's queueing stubs and sit unused in the `ttq` queue.
 *  - VendorRecorder(tiktok_sdk="consent"), a newer SDK: holdConsent() buffers everything (events and
 *    automatic act events, no cookie), grantConsent() sends the buffer and resumes, revokeConsent()
 *    drops the buffer and stops everything, automatic events included, until a later grantConsent().
 *
 * What it sends (both generations):
 *  - page() / track(event, properties, {event_id}) -> POST https://analytics.tiktok.com/api/v2/pixel with a
 *    JSON body {event, event_id, message_id, timestamp, context: {pixel: {code}, page: {url, referrer},
 *    library: {name, version}, user: {anonymous_id}, ...}, properties}. page() sends "Pageview".
 *  - automatically, per loaded pixel: POST https://analytics.tiktok.com/api/v2/pixel/act with event
 *    "Metadata" once per page (META_DELAY_MS after the SDK ran and the page finished loading), and
 *    "Click" on every click on a button or link (properties: trigger_element, inner_text, xpath,
 *    position, destination, ...).
 *  - transport: navigator.sendBeacon with the JSON as text (fetch keepalive as fallback).
 *  - cookie: `_ttp` (first-party anonymous id) is written when the SDK starts sending.
 */
(function () {
  var CONSENT_API = false;  // __TG_TIKTOK_CONSENT_API__ (the recorder sets true for the newer SDK)
  var VERSION = CONSENT_API ? '2.2.1' : '2.1.33';
  var META_DELAY_MS = 1000;

  var ttq = window.ttq;
  if (!ttq || ttq.__tgStubLoaded) return;
  ttq.__tgStubLoaded = true;
  ttq._i = ttq._i || {};

  var consent = 'granted';  // newer SDK only: 'granted' | 'held' | 'revoked'
  var buffer = [];
  var sessionId = String(Date.now()) + Math.floor(Math.random() * 1e6);
  var pageviewId = 'pv' + Math.floor(Math.random() * 1e12);
  var index = 0;
  var metadataSent = {};

  function readCookie(name) {
    var found = null;
    document.cookie.split(';').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim();
    });
    return found;
  }
  function anonymousId() {
    var value = readCookie('_ttp');
    if (!value) {
      value = Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
      document.cookie = '_ttp=' + value + '; path=/; max-age=33696000; SameSite=Lax';
    }
    return value;
  }

  function message(pixelId, eventName, properties, options) {
    var now = new Date();
    return {
      event: eventName,
      event_id: (options && options.event_id) ? String(options.event_id) : '',
      message_id: 'messageId-' + now.getTime() + '-' + Math.floor(Math.random() * 1e10),
      is_onsite: false,
      timestamp: now.toISOString(),
      context: {
        ad: {},
        device: {platform: 'pc'},
        library: {name: 'pixel.js', version: VERSION},
        page: {url: location.href, referrer: document.referrer},
        pixel: {code: pixelId},
        session_id: sessionId,
        pageview_id: pageviewId,
        index: index++,
        userAgent: navigator.userAgent,
        user: {},
      },
      properties: properties || {},
      _inspection: {},
    };
  }

  function transmit(path, body) {
    body.context.user.anonymous_id = anonymousId();
    var url = 'https://analytics.tiktok.com' + path;
    var text = JSON.stringify(body);
    var sent = false;
    try { sent = navigator.sendBeacon && navigator.sendBeacon(url, text); } catch (e) { sent = false; }
    if (!sent) {
      fetch(url, {method: 'POST', mode: 'no-cors', keepalive: true, credentials: 'include',
                  headers: {'Content-Type': 'text/plain'}, body: text}).catch(function () {});
    }
  }

  function send(path, body) {
    if (CONSENT_API) {
      if (consent === 'revoked') return;
      if (consent === 'held') { buffer.push([path, body]); return; }
    }
    transmit(path, body);
  }

  // ---------------------------------------------------------------- automatic act events

  function xpath(el) {
    var parts = [];
    for (; el && el.nodeType === 1 && el !== document.documentElement; el = el.parentElement) {
      var i = 1;
      for (var s = el.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === el.tagName) i++;
      parts.unshift(el.tagName.toLowerCase() + '[' + i + ']');
    }
    return '/html/' + parts.join('/');
  }

  function clickable(target) {
    for (var el = target; el && el.nodeType === 1; el = el.parentElement) {
      if (el.tagName === 'BUTTON' || el.tagName === 'A' || el.getAttribute('role') === 'button' ||
          (el.tagName === 'INPUT' && /^(submit|button)$/i.test(el.type))) return el;
    }
    return null;
  }

  document.addEventListener('click', function (event) {
    var el = clickable(event.target);
    if (!el) return;
    var rect = el.getBoundingClientRect();
    var properties = {
      trigger_element: el.tagName,
      inner_text: (el.innerText || el.value || '').trim().slice(0, 100),
      xpath: xpath(el),
      position: {x: Math.round(rect.left), y: Math.round(rect.top)},
      num_child_buttons: el.querySelectorAll('button').length,
      destination: el.href || '',
      class: el.className || '',
      id: el.id || '',
      timestamp: new Date().toISOString(),
    };
    Object.keys(ttq._i).forEach(function (id) { send('/api/v2/pixel/act', message(id, 'Click', properties)); });
  }, true);

  function metaContent(selector) {
    var el = document.querySelector(selector);
    return el ? el.getAttribute('content') : '';
  }
  function sendMetadata() {
    Object.keys(ttq._i).forEach(function (id) {
      if (metadataSent[id]) return;
      metadataSent[id] = true;
      send('/api/v2/pixel/act', message(id, 'Metadata', {
        page_trigger: 'load',
        title: document.title,
        meta: {description: metaContent('meta[name="description"]'), keywords: metaContent('meta[name="keywords"]')},
        open_graph: {title: metaContent('meta[property="og:title"]')},
        microdata: [],
        json_ld: [],
      }));
    });
  }
  function scheduleMetadata() { setTimeout(sendMetadata, META_DELAY_MS); }
  if (document.readyState === 'complete') scheduleMetadata();
  else window.addEventListener('load', scheduleMetadata);

  // ---------------------------------------------------------------- ttq API

  var CONSENT_METHODS = ['holdConsent', 'grantConsent', 'revokeConsent'];
  var METHODS = ['page', 'track', 'identify', 'enableCookie', 'disableCookie'].concat(CONSENT_API ? CONSENT_METHODS : []);

  function call(pixelIds, method, args) {
    switch (method) {
      case 'page':
        pixelIds.forEach(function (id) { send('/api/v2/pixel', message(id, 'Pageview', {})); });
        break;
      case 'track':
        pixelIds.forEach(function (id) { send('/api/v2/pixel', message(id, String(args[0]), args[1], args[2])); });
        break;
      case 'holdConsent':
        if (CONSENT_API) consent = 'held';
        break;
      case 'grantConsent':
        if (!CONSENT_API) break;
        consent = 'granted';
        buffer.splice(0).forEach(function (entry) { transmit(entry[0], entry[1]); });
        break;
      case 'revokeConsent':
        if (!CONSENT_API) break;
        consent = 'revoked';
        buffer = [];
        break;
      default:
        break;  // identify, enableCookie, ... are not needed by the tests
    }
  }

  function allPixels() { return Object.keys(ttq._i); }

  function bindMethods(target, pixelIds) {
    METHODS.forEach(function (method) {
      target[method] = function () { call(pixelIds(), method, Array.prototype.slice.call(arguments)); return target; };
    });
  }

  function drain(queue, pixelIds) {
    // Known calls are processed; unknown ones (e.g. consent calls on the older SDK) stay queued, unused.
    var entries = queue.splice(0, queue.length);
    entries.forEach(function (entry) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && METHODS.indexOf(entry[0]) !== -1) {
        call(pixelIds(), entry[0], entry.slice(1));
      } else {
        queue.push(entry);
      }
    });
  }

  // The global queue first (where the base code queues holdConsent), then each pixel's own queue.
  drain(ttq, allPixels);
  bindMethods(ttq, allPixels);
  Object.keys(ttq._i).forEach(function (id) {
    drain(ttq._i[id], function () { return [id]; });
    bindMethods(ttq._i[id], function () { return [id]; });
  });

  ttq.instance = function (id) {
    if (ttq._i[id]) return ttq._i[id];
    var unknown = [];  // a pixel that was never load()ed: calls on it send nothing
    bindMethods(unknown, function () { return []; });
    return unknown;
  };
  ttq.load = function (id, options) {
    if (ttq._i[id]) return;
    ttq._i[id] = [];
    bindMethods(ttq._i[id], function () { return [id]; });
    ttq._o = ttq._o || {};
    ttq._o[id] = options || {};
    if (document.readyState === 'complete') scheduleMetadata();
  };

  if (!CONSENT_API) anonymousId();  // the older SDK writes its cookie as soon as it runs
})();

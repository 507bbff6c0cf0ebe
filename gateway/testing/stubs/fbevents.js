/*
 * TEST STAND-IN for Meta's https://connect.facebook.net/en_US/fbevents.js.
 * Served by the testing kit's VendorRecorder (gateway/testing/recorder.py) instead of the real library (the tests run offline). Written for the
 * tests from public descriptions of what the real library does; deliberately NOT kinder than it:
 *
 *  - Per-pixel config: fbq('init', ID) injects <script src="https://connect.facebook.net/signals/config/ID
 *    ?v=2.9.174&r=stable">. Nothing is sent for that pixel until that script has run: its events wait in
 *    a per-pixel queue. The recorder serves a config script that calls fbq.registerPlugin('config:ID',
 *    {__fbEventsPlugin: 1, plugin: fn}); running the plugin marks the pixel configured and flushes its queue.
 *  - autoConfig defaults to true: then every click on a button or link sends SubscribedButtonClick for that
 *    pixel (cd[buttonText], cd[buttonFeatures], ...). fbq('set', 'autoConfig', false, ID) turns it off,
 *    when called before fbq('init', ID) (as the real library requires; later it changes nothing).
 *  - History: every pushState / replaceState / popstate that changes the URL sends PageView for every
 *    pixel, unless fbq.disablePushState === true at that moment.
 *  - Transport: GET image https://www.facebook.com/tr/?id=..&ev=..&dl=..&rl=..&if=false&ts=..&cd[k]=..
 *    &sw=..&sh=..&v=..&r=stable&fbp=..&eid=..; when that URL would be longer than 2048 characters the
 *    same fields go as a form-encoded POST to https://www.facebook.com/tr/ (navigator.sendBeacon, fetch
 *    keepalive as fallback). Every hit carries a fresh ts, so no hit is ever a cached image URL.
 *  - Consent: fbq('consent', 'revoke') holds every later event (nothing is sent, no cookie is written);
 *    fbq('consent', 'grant') sends the held events and resumes. The `_fbp` first-party cookie is written
 *    when the first hit is sent.
 *  - track / trackCustom go to every pixel; trackSingle / trackSingleCustom(ID, ...) to that pixel only.
 */
(function () {
  var fbq = window.fbq;
  if (!fbq || fbq.callMethod) return;  // no base code on the page, or already loaded

  var VERSION = '2.9.174';
  var MAX_GET_URL = 2048;
  var pixels = {};           // id -> {configured, waiting: [...], autoConfig}
  var order = [];            // pixel ids in init order
  var autoConfigOff = {};    // id -> true: fbq('set', 'autoConfig', false, id) seen (counts only before init)
  var revoked = false;
  var held = [];             // events sent while consent was revoked
  var lastTimestamp = 0;
  var lastHref = location.href;

  function timestamp() {
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    return lastTimestamp;
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
  function fbp() {
    var value = readCookie('_fbp');
    if (!value) {
      value = 'fb.1.' + Date.now() + '.' + Math.floor(Math.random() * 2147483647);
      document.cookie = '_fbp=' + value + '; path=/; max-age=7776000; SameSite=Lax';
    }
    return value;
  }

  // ---------------------------------------------------------------- transport

  function encodeValue(value) {
    if (value !== null && typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function fields(hit) {
    var f = [['id', hit.id], ['ev', hit.event], ['dl', hit.dl], ['rl', hit.rl], ['if', 'false'],
             ['ts', String(timestamp())]];
    Object.keys(hit.params || {}).forEach(function (key) {
      var value = hit.params[key];
      if (value === undefined) return;
      f.push(['cd[' + key + ']', encodeValue(value)]);
    });
    f.push(['sw', String(screen.width)], ['sh', String(screen.height)], ['v', VERSION], ['r', 'stable'],
           ['ec', String(hit.seq)], ['o', '4126'], ['fbp', fbp()]);
    if (hit.options && hit.options.eventID) f.push(['eid', String(hit.options.eventID)]);
    // fbq('dataProcessingOptions', ['LDU'], country, state), as the real library reports it on each hit.
    if (hit.dpo) f.push(['dpo', hit.dpo.options.join(',')], ['dpoco', String(hit.dpo.country)], ['dpost', String(hit.dpo.state)]);
    f.push(['it', String(hit.initTime)], ['coo', 'false']);
    return f;
  }

  function encode(pairs) {
    return pairs.map(function (kv) { return encodeURIComponent(kv[0]) + '=' + encodeURIComponent(kv[1]); }).join('&');
  }

  function transmit(hit) {
    var f = fields(hit);
    var url = 'https://www.facebook.com/tr/?' + encode(f.concat([['rqm', 'GET']]));
    if (url.length <= MAX_GET_URL) {
      new Image().src = url;
      return;
    }
    var body = encode(f.concat([['rqm', 'SB']]));
    var sent = false;
    try {
      sent = navigator.sendBeacon && navigator.sendBeacon('https://www.facebook.com/tr/',
        new Blob([body], {type: 'application/x-www-form-urlencoded'}));
    } catch (e) { sent = false; }
    if (!sent) {
      fetch('https://www.facebook.com/tr/', {method: 'POST', body: new URLSearchParams(body), keepalive: true,
                                             mode: 'no-cors', credentials: 'include'}).catch(function () {});
    }
  }

  // ---------------------------------------------------------------- per-pixel queue

  var sequence = {};
  var dataProcessing = null;  // Limited Data Use, when set
  function deliver(hit) {
    if (revoked) { held.push(hit); return; }
    var pixel = pixels[hit.id];
    if (!pixel) return;
    if (!pixel.configured) { pixel.waiting.push(hit); return; }
    transmit(hit);
  }

  function track(ids, eventName, params, options) {
    ids.forEach(function (id) {
      var pixel = pixels[id];
      if (!pixel) return;
      sequence[id] = (sequence[id] || 0) + 1;
      deliver({id: id, event: String(eventName), params: params, options: options, dl: location.href,
               rl: document.referrer, seq: sequence[id], initTime: pixel.initTime, dpo: dataProcessing});
    });
  }

  function init(id) {
    id = String(id);
    if (pixels[id]) return;
    // autoConfig is read at init, as in the real library: set it before fbq('init', ID).
    pixels[id] = {configured: false, waiting: [], initTime: Date.now(), autoConfig: !autoConfigOff[id]};
    order.push(id);
    var script = document.createElement('script');
    script.async = true;
    script.src = 'https://connect.facebook.net/signals/config/' + encodeURIComponent(id) + '?v=' + VERSION + '&r=stable';
    (document.head || document.documentElement).appendChild(script);
  }

  // Called by the config script the recorder serves for each pixel.
  fbq.registerPlugin = function (name, plugin) {
    var m = /^config:(.+)$/.exec(String(name));
    var pixel = m && pixels[m[1]];
    if (!pixel || pixel.configured) return;
    if (plugin && typeof plugin.plugin === 'function') plugin.plugin(fbq, {pixelId: m[1]}, {set: function () {}});
    pixel.configured = true;
    pixel.waiting.splice(0).forEach(deliver);
  };

  // ---------------------------------------------------------------- automatic events

  function buttonOf(target) {
    for (var el = target; el && el.nodeType === 1; el = el.parentElement) {
      var tag = el.tagName;
      if (tag === 'BUTTON' || tag === 'A' || el.getAttribute('role') === 'button' ||
          (tag === 'INPUT' && /^(submit|button)$/i.test(el.type))) return el;
    }
    return null;
  }

  document.addEventListener('click', function (event) {
    var button = buttonOf(event.target);
    if (!button) return;
    var text = (button.innerText || button.value || '').trim().slice(0, 100);
    var features = {classList: button.className || '', destination: button.href || '', id: button.id || '',
                    imageUrl: '', innerText: text, numChildButtons: button.querySelectorAll('button').length,
                    tag: button.tagName.toLowerCase(), type: button.type || null};
    var page = {title: document.title};
    order.forEach(function (id) {
      if (!pixels[id].autoConfig) return;
      track([id], 'SubscribedButtonClick', {buttonFeatures: features, buttonText: text, formFeatures: [], pageFeatures: page});
    });
  }, true);

  function onHistory() {
    if (location.href === lastHref) return;
    lastHref = location.href;
    if (fbq.disablePushState === true) return;
    track(order.slice(), 'PageView');
  }
  ['pushState', 'replaceState'].forEach(function (method) {
    var original = history[method];
    history[method] = function () {
      var result = original.apply(this, arguments);
      onHistory();
      return result;
    };
  });
  window.addEventListener('popstate', onHistory);

  // ---------------------------------------------------------------- fbq API

  function callMethod(command) {
    var args = Array.prototype.slice.call(arguments, 1);
    switch (command) {
      case 'init':
        init(args[0]);
        break;
      case 'dataProcessingOptions':
        dataProcessing = args[0] && args[0].length ? {options: args[0], country: args[1] || 0, state: args[2] || 0} : null;
        break;
      case 'set':
        if (args[0] === 'autoConfig') {
          if (args[2] !== undefined) autoConfigOff[String(args[2])] = args[1] === false || args[1] === 'false';
        }
        break;
      case 'consent':
        if (args[0] === 'revoke') revoked = true;
        else if (args[0] === 'grant') { revoked = false; held.splice(0).forEach(deliver); }
        break;
      case 'track':
      case 'trackCustom':
        track(order.slice(), args[0], args[1], args[2]);
        break;
      case 'trackSingle':
      case 'trackSingleCustom':
        track([String(args[0])], args[1], args[2], args[3]);
        break;
      default:
        break;
    }
  }

  fbq.callMethod = callMethod;
  var queued = fbq.queue || [];
  fbq.queue = [];
  for (var i = 0; i < queued.length; i++) callMethod.apply(null, queued[i]);
})();

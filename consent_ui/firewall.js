/* The consent firewall. Vendor libraries do more than our triggers ask (automatic scroll and click
 * events, PageViews on pushState) and keep going after a withdrawal, and a store may hard-code a
 * pixel of its own. So from the moment the container runs, every request this page makes through
 * fetch, XMLHttpRequest, sendBeacon, or the `src` of an <img>, <script> or <iframe> set from a
 * script is checked against CONFIG.fw (built by gateway/firewall.py: [host, path prefix,
 * [indices of the tags that use it]], most specific first). A request whose rule has no tag of an
 * allowed category is stopped. Elements are parked and get their `src` as soon as one of their categories is allowed;
 * fetch/XHR/beacon calls are dropped, as an ad blocker would (vendors treat that as a network
 * failure). What it cannot see (requests made before it ran, CSS images, workers, markup parsed
 * by the browser from HTML) is listed in the README and pinned down by e2e/test_firewall_limits.py.
 */
var parked = []; // [element, url, rule] waiting for consent

function claim(url) {
  var u, i, r, h, host, path, next;
  // Fast path for everything else on the page: printable ASCII without % escapes names its host
  // as written (the URL parser only lower-cases it), so a URL containing no rule's host needs no parsing.
  var lower = url.toLowerCase();
  if (!/[^ -~]|%/.test(url) && !CONFIG.fw.some(function (r) { return lower.indexOf(r[0]) >= 0; })) return null;
  try { u = new URL(url, location.href); } catch (err) { return null; }
  // First-party requests and the gateway itself are never a tracker of this configuration
  // (data: and blob: URLs have no host, so no rule matches them).
  if (u.origin === location.origin || (BASE + '/').indexOf(u.origin + '/') === 0) return null;
  h = u.hostname;
  path = u.pathname + u.search;
  for (i = 0; i < CONFIG.fw.length; i++) {
    r = CONFIG.fw[i];
    host = r[0];
    if (h !== host && h.slice(-host.length - 1) !== '.' + host) continue; // the host or a subdomain
    // A path prefix matches whole segments: /tr matches /tr, /tr/ and /tr?x, not /track.
    next = path.charAt(r[1].length);
    if (path.indexOf(r[1]) || (next && !/[\/?=-]$/.test(r[1]) && next !== '/' && next !== '?')) continue;
    return r;
  }
  return null;
}

function permits(rule) { return rule[2].some(function (i) { return mayFire(CONFIG.tags[i]); }); }

// The rule that stops `url` now, or null when it may go.
function stopped(url, how) {
  var rule = claim(String(url));
  if (!rule || permits(rule)) return null;
  trace(how, String(url), rule[2]);
  if (DEBUG) log('stopped', how, String(url).slice(0, 200), 'of', rule[2].map(function (i) { var t = CONFIG.tags[i]; return t.id + ' (' + t.category + ')'; }).join(', '));
  return rule;
}

var setAttr = Element.prototype.setAttribute;
var ELEMENTS = [HTMLScriptElement, HTMLImageElement, HTMLIFrameElement];

function watched(el) { return ELEMENTS.some(function (C) { return el instanceof C; }); }

function park(el, url) {
  var rule = stopped(url, el.tagName && el.tagName.toLowerCase());
  if (rule && parked.length < 200) parked.push([el, String(url), rule]);
  return rule;
}

function releaseParked() {
  parked = parked.filter(function (p) {
    if (!permits(p[2])) return true;
    log('released', p[1]);
    setAttr.call(p[0], 'src', p[1]);
    return false;
  });
}

function installFirewall() {
  if (!CONFIG.fw.length) return;
  var F = w.fetch, X = w.XMLHttpRequest && XMLHttpRequest.prototype, nav = w.navigator, beacon = nav.sendBeacon;
  if (F) w.fetch = function (input) {
    return stopped(w.Request && input instanceof Request ? input.url : input, 'fetch')
      ? Promise.reject(new TypeError('tag-gateway: no consent')) : F.apply(this, arguments);
  };
  if (X) {
    var open = X.open, send = X.send, urls = new WeakMap();
    X.open = function (method, url) { urls.set(this, url); return open.apply(this, arguments); };
    X.send = function () { if (!stopped(urls.get(this), 'XMLHttpRequest')) return send.apply(this, arguments); };
  }
  if (beacon) nav.sendBeacon = function (url) { return stopped(url, 'sendBeacon') ? true : beacon.apply(nav, arguments); };
  ELEMENTS.forEach(function (C) {
    var own = C && Object.getOwnPropertyDescriptor(C.prototype, 'src');
    if (own) Object.defineProperty(C.prototype, 'src', {configurable: true, enumerable: own.enumerable, get: own.get,
      set: function (url) { if (!park(this, url)) own.set.call(this, url); }});
  });
  Element.prototype.setAttribute = function (name, value) {
    if (!(String(name).toLowerCase() === 'src' && watched(this) && park(this, value))) return setAttr.apply(this, arguments);
  };
}

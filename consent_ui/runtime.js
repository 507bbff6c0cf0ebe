/* tag-gateway container runtime.
 *
 * The server wraps this file as  (function(){ var CONFIG = {...}; var KINDS = {};
 * <consent_ui/tags/*.js of the kinds in use> <this file> })();
 * CONFIG is JSON written by gateway/container.py; nothing in it is evaluated.
 *
 * The promise this file keeps: until the visitor's choice is known, only tags of
 * the `necessary` category fire. Every trigger occurrence (page view, data-layer
 * event, click) is held meanwhile; when the choice arrives, the tags it allows
 * fire for the held occurrences once, in config order, and the rest is dropped.
 */
var w = window, d = document;
if (w.tagGateway && w.tagGateway.version) return; // the store included the container twice

/* The store's HTML may contain markup written by visitors (reviews) that shadows document
 * properties: <img name="currentScript" src="https://evil/container.js"> makes
 * document.currentScript that image, <img name="cookie"> hides the cookie jar (DOM clobbering).
 * So everything taken from `document` comes from the real getters and methods of its prototypes. */
function real(name) {
  for (var o = Document.prototype, p; o; o = Object.getPrototypeOf(o)) if ((p = Object.getOwnPropertyDescriptor(o, name))) return p;
}
function dget(name) { return real(name).get.call(d); }
function dcall(name, a, b, c) { return real(name).value.call(d, a, b, c); }
function cookies(value) { var p = real('cookie'); return value == null ? p.get.call(d) : p.set.call(d, value); }
// Lookups keyed by config or page data get no inherited keys: a category called `constructor`
// must not count as allowed.
function map() { return Object.create(null); }

// The executing script element itself (never a look-alike in the page): where the gateway is.
var me = dget('currentScript');
if (!(me instanceof HTMLScriptElement)) me = null;
// .../container.js -> ...; one of several sites, .../c/NAME.js -> .../c/NAME (its /consent and /ui).
var BASE = me ? me.src.replace(/(\/c\/[^\/?#]+)\.js(?:[?#].*)?$|\/container\.js(?:[?#].*)?$/, '$1') : '';
var NONCE = me ? me.nonce || me.getAttribute('nonce') : null;
var COOKIE = CONFIG.cookie;
var DEBUG = /[?&]tg_debug=1/.test(location.search);
// Preview (`gateway preview`): the link's signed token, kept for this tab, turns on the trace (occurrences,
// why each tag did or did not fire, requests stopped: tagGateway.trace()) and loads the gateway's preview.js,
// which explains it in a panel. The token is checked there, never here.
var PREVIEW = location.search.match(/[?&]tg_preview=([\w.-]+)/), TRACE;
try {
  PREVIEW = PREVIEW ? sessionStorage.tg_preview = PREVIEW[1] : sessionStorage.tg_preview;
  TRACE = PREVIEW != null && []; // an empty tg_preview (tests): the trace without preview.js
} catch (err) { PREVIEW = 0; }
// trace(occ), the occurrence alone, is called once as each occurrence happens: rules/server_side.js hooks in there.
function trace() { if (TRACE) TRACE.push(arguments); }

var state = 'loading';      // 'loading' (checking a stored choice) | 'undecided' | 'decided'
var consent = null;         // {categories, id, policy_version, timestamp} once decided
var allowed = map();        // category -> 1 for the categories allowed now
allowed.necessary = 1;
var held = [];              // occurrences waiting for the first decision (and for the answer when asked again); null afterwards
var model = {};             // GTM-style merged data-layer model
var listeners = [];
var sale = [], optOutRegion = false, gpc = false, region = null; // from the gateway: sale/sharing categories, the rule, the signal, the place
function isAllowed(category) { return allowed[category] === 1; }
// Per-vendor choices (site.vendor_choice) are consent_ui/vendors.js, shipped only to sites that offer them:
// it runs before this file and replaces these two hooks. Without it no vendor is refused one by one.
function refused(tag) {}         // the tag's vendor was refused inside its allowed category
function refuse(vendors, more) {} // a decision's vendors_refused take effect (allow)
// A tag fires when its category is allowed and its vendor not refused, or (after_opt_out: restricted) in
// its vendor's restricted mode once the visitor of an opt-out region opted out of sale/sharing.
function mayFire(tag) { return isAllowed(tag.category) && !refused(tag) || (tag.restricted && optOutRegion); }

function log() { if (DEBUG && w.console) console.log.apply(console, ['[tag-gateway]'].concat([].slice.call(arguments))); }
function warn(msg, err) { if (w.console) console.warn('[tag-gateway] ' + msg, err || ''); }
function isPlain(v) { return Object.prototype.toString.call(v) === '[object Object]'; }

/* ---------- values: placeholders compiled on the server into {$:[root, ...path]} / {$t:[pieces]} ----------
 * A value that is not there is undefined, and whatever holds it (a parameter, a text with it, an
 * array item) is left out: no request carries "undefined". Declared variables apply their default. */
function own(o, k) { return o != null && Object.prototype.hasOwnProperty.call(o, k); }
// url, cookie and var are in consent_ui/values/, shipped when a placeholder uses them (ROOTS).
function lookup(path, ctx) {
  if (ROOTS[path[0]]) return ROOTS[path[0]](path, ctx);
  return walk(ctx[path[0]], path);
}
function walk(v, path) {
  for (var i = 1; i < path.length && v != null; i++) v = own(v, path[i]) ? v[path[i]] : undefined;
  return v;
}
function text(v) { return v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v); }
function present(v) { return v != null; }
function resolve(value, ctx) {
  if (Array.isArray(value)) return value.map(function (v) { return resolve(v, ctx); }).filter(present);
  if (!isPlain(value)) return value;
  if (value.$) return lookup(value.$, ctx);
  if (value.$t) {
    var parts = value.$t.map(function (p) { return typeof p === 'string' ? p : lookup(p.$, ctx); });
    return parts.every(present) ? parts.map(text).join('') : undefined;
  }
  var out = {}, r;
  for (var k in value) if (present(r = resolve(value[k], ctx))) out[k] = r;
  return out;
}

/* ---------- helpers the tag kinds share ---------- */
var scripts = map();
function loadScript(src, done) {
  var entry = scripts[src];
  if (!entry) {
    entry = scripts[src] = {loaded: false, waiting: []};
    var s = dcall('createElement', 'script');
    s.async = true;
    s.src = src;
    if (NONCE) s.nonce = NONCE;
    s.onload = function () { entry.loaded = true; entry.waiting.forEach(function (f) { f(); }); entry.waiting = []; };
    s.onerror = function () { warn('could not load ' + src); };
    (dget('head') || dget('documentElement')).appendChild(entry.el = s);
  }
  if (done) entry.loaded ? done() : entry.waiting.push(done);
  return entry.el;
}

/* ---------- triggers: each type decides whether an occurrence matches a tag's trigger ----------
 * page_view and event are here; every other type is a file under consent_ui/triggers/, in the
 * container only when a tag uses it, registered in TRIGGERS as {match, start}. */
TRIGGERS.page_view = {match: function (t, occ) { return !t.paths || t.paths.some(function (p) { return new RegExp(p).test(occ.page.path); }); }};
TRIGGERS.event = {match: function (t, occ) { return occ.name === t.event; }};
function always() { return true; }
// click, form_submit, element_visible: one occurrence per element for each distinct way tags look at it.
function sigMatch(t, occ) { return occ.sig === t.sig; }
function sigsOf(type) {
  var out = [], seen = map();
  CONFIG.tags.forEach(function (tag) {
    var t = tag.trigger;
    if (t.type !== type || seen[t.sig]) return;
    seen[t.sig] = 1;
    try { if (t.selector) dcall('querySelector', t.selector); out.push(t); } catch (err) { warn('bad selector: ' + t.selector); }
  });
  return out;
}
// Read through the prototypes: a form's fields shadow its properties (<input name="id"> makes form.id
// that input, <input name="action"> form.action), and the page decides what its forms hold.
function getter(proto, name, el) { return Object.getOwnPropertyDescriptor(proto, name).get.call(el); }
function attr(el, name) { return Element.prototype.getAttribute.call(el, name) || ''; }
function elementInfo(el) {
  var data = {}, set = getter(HTMLElement.prototype, 'dataset', el);
  for (var k in set) data[k] = set[k];
  return {id: attr(el, 'id'), text: (getter(Node.prototype, 'textContent', el) || '').trim().slice(0, 200), classes: attr(el, 'class'),
          href: el instanceof HTMLAnchorElement ? el.href : attr(el, 'href'), data: data};
}

function pageInfo() {
  return {url: location.href, path: location.pathname, title: dget('title'), referrer: dget('referrer'),
          hostname: location.hostname, query: location.search};
}

// Why a tag did not fire on an occurrence of its trigger type (?tg_debug=1 logs it): a short code
// (consent, trigger, delay, setup, or a rule's own text) and what it concerns.
function skip(tag, occ, why, what) { trace(occ, tag, why, what); log('not fired', tag.id, 'on', occ.name + ':', why, what || ''); }

function occur(type, name, ev, extra) {
  var occ = {type: type, name: name, event: ev, dataLayer: model, page: pageInfo(), fired: map()};
  for (var k in extra) occ[k] = extra[k];
  trace(occ);
  if (held) held.push(occ);
  run(occ);
}

function run(occ) {
  CONFIG.tags.forEach(function (tag, i) {
    if (occ.fired[i] || tag.trigger.type !== occ.type) return;
    var why = !mayFire(tag) ? 'consent' : !TRIGGERS[tag.trigger.type].match(tag.trigger, occ) ? 'trigger' : gate(tag, occ);
    if (why) return skip(tag, occ, why, why == 'consent' && tag.category);
    occ.fired[i] = 1;
    if (!tag.delay) return send(tag, occ, i);
    setTimeout(function () { if (mayFire(tag)) send(tag, occ, i); else skip(tag, occ, 'delay', 'consent withdrawn'); }, tag.delay);
  });
}
// Rules beyond the trigger (consent_ui/rules/): each returns why a tag may not fire now, or nothing.
function gate(tag, occ) {
  for (var i = 0, why; i < GATES.length; i++) if ((why = GATES[i](tag, occ))) return why;
}
var setUp = map(); // setup tags that fired on this page (by index)
function send(tag, occ, i) {
  var first = tag.setup;
  if (first != null && !setUp[first]) {
    if (!mayFire(CONFIG.tags[first])) return skip(tag, occ, 'setup', CONFIG.tags[first].id);
    send(CONFIG.tags[first], occ, first);
  }
  setUp[i] = 1;
  log('fire', tag.id, 'on', occ.name);
  trace(occ, tag);
  try {
    KINDS[tag.kind].fire(tag, occ);
    AFTER.forEach(function (f) { f(tag, occ); });
  } catch (err) {
    warn('tag ' + tag.id + ' failed', err);
  }
}

/* ---------- consent state ---------- */
var OPTED_OUT = 'tg_optout'; // first-party marker: this browser opted out of sale/sharing
function readCookie(name) {
  var m = cookies().match(new RegExp('(?:^|;\\s*)' + name + '=([A-Za-z0-9_.-]+)'));
  return m ? m[1] : null;
}
function writeCookie(name, value, maxAge) {
  var attrs = '; path=/; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  var dom = COOKIE.domain;
  if (dom && (location.hostname === dom || location.hostname.slice(-dom.length - 1) === '.' + dom)) attrs += '; domain=' + dom;
  cookies(name + '=' + (value || '') + attrs + (value ? maxAge ? '; max-age=' + maxAge : '' : '; max-age=0')); // no maxAge: a session cookie
}

function allow(categories, vendors, more) {
  var before = CONFIG.tags.map(mayFire);
  allowed = map();
  allowed.necessary = 1;
  categories.forEach(function (c) { if (CONFIG.categories.indexOf(c) >= 0) allowed[c] = 1; });
  refuse(vendors, more);
  if (CONFIG.gcm) google.update();
  releaseParked();
  // Withdrawn categories and refused vendors: tell the vendors that are already on the page to stop.
  var revoked = map(), kept = map();
  CONFIG.tags.forEach(function (tag) { if (mayFire(tag)) kept[tag.kind] = 1; });
  CONFIG.tags.forEach(function (tag, i) {
    var kind = KINDS[tag.kind];
    if (before[i] && !mayFire(tag) && !revoked[tag.kind + tag.category]) {
      revoked[tag.kind + tag.category] = 1;
      try { if (kind.revoke) kind.revoke(tag); } catch (err) { warn('revoke failed', err); }
    }
    // On every decision, not only at the withdrawal: a library still running on the page after a
    // withdrawal may write its cookie again (TikTok's SDK does), and the next page removes it.
    if (!kept[tag.kind] && kind.cookies) deleteCookies(kind.cookies);
  });
}

// Remove the first-party cookies of vendors no allowed tag uses (e.g. _fbp, _ga), on this host and
// every parent domain a library may have written them to. Patterns ending in * match prefixes.
function deleteCookies(patterns) {
  cookies().split(/;\s*/).forEach(function (pair) {
    var name = pair.split('=')[0];
    var hit = patterns.some(function (p) { return p.slice(-1) === '*' ? name.indexOf(p.slice(0, -1)) === 0 : name === p; });
    if (!hit) return;
    var parts = location.hostname.split('.'), domains = [''];
    for (var i = 0; i < parts.length - 1; i++) domains.push('; domain=' + parts.slice(i).join('.'));
    domains.forEach(function (domain) { cookies(name + '=; path=/; max-age=0' + domain); });
  });
}

// The categories that may fire now; the occurrences held until then fire once for them (run() skips the
// tags that fired on an occurrence already). keep: the visitor is asked again (vendors added since their
// choice), so this page's occurrences stay held for the answer, and the tags it allows then and that
// did not fire on them fire once (a vendor added later gets this page's page view and purchase too).
function settle(categories, vendors, keep) {
  allow(categories, vendors);
  var replay = held;
  held = keep && replay;
  if (replay) replay.forEach(run);
}

function apply(next, keep) {
  settle(next.categories, next.vendors_refused, keep);
  consent = next;
  state = 'decided';
  ui.fab();
  log('consent', next);
  var detail = api.consent;
  listeners.forEach(function (f) { try { f(detail); } catch (err) { warn('listener failed', err); } });
  try { EventTarget.prototype.dispatchEvent.call(w, new CustomEvent('tag-gateway:consent', {detail: detail})); } catch (err) { /* very old browser */ }
}

function request(method, path, body, token) {
  var headers = {'Content-Type': 'application/json'};
  if (token) headers['X-Tag-Gateway-Consent'] = token;
  return fetch(BASE + path, {method: method, credentials: 'include', headers: headers,
                             body: body ? JSON.stringify(body) : undefined})
    .then(function (r) { return r.json().then(function (j) {
      if (!r.ok) { var e = new Error((j.error && j.error.message) || r.status); e.retry = r.status == 503 && (+r.headers.get('Retry-After') || 5); throw e; }
      return j;
    }); });
}

var sent = 0; // choices sent: a retry of an older one is dropped
// vendors: those refused inside allowed categories (vendor_choice, consent_ui/vendors.js); else undefined.
function choose(categories, action, vendors) {
  ui.close();
  // A withdrawal takes effect now, not after the round trip; new grants wait for the signed record.
  allow(categories.filter(isAllowed), vendors, 1);
  // In an opt-out region, a no to sale/sharing by any way (the link, the preferences) is an opt-out the
  // browser keeps at once; an explicit yes (banner, preferences) lifts the marker anywhere.
  var refused = sale.some(function (c) { return categories.indexOf(c) < 0; });
  if (optOutRegion && refused) writeCookie(OPTED_OUT, '1', 395 * 86400);
  else if (!refused) writeCookie(OPTED_OUT);
  var mine = ++sent, tries = 0;
  function post() {
    return request('POST', '/consent', {categories: categories, action: action, gpc: gpc, lang: lang, vendors_refused: vendors}).then(function (res) {
      writeCookie(COOKIE.name, res.token, COOKIE.max_age);
      apply(res.consent);
    }, function (err) {
      // The log could not take it just now (503): keep the choice and send it again, a few times,
      // unless the visitor chose again meanwhile. Nothing optional fires until it is stored.
      if (err.retry && tries++ < 3) return new Promise(function (ok) { setTimeout(ok, err.retry * 1e3); }).then(function () { if (mine == sent) return post(); });
      // No stored record means no provable consent: fire nothing optional, ask again next page.
      warn('could not store the choice', err);
      if (state !== 'decided') { state = 'undecided'; }
    });
  }
  return post();
}

function categoriesExcept(fn) {
  return CONFIG.categories.filter(function (c) { return c !== 'necessary' && fn(c); });
}

var api = w.tagGateway = {
  version: CONFIG.version,
  event: null,
  get state() { return state; },
  get consent() { return consent && JSON.parse(JSON.stringify(consent)); }, // a copy: the page cannot change ours
  acceptAll: function () { return choose(categoriesExcept(function () { return true; }), 'accept_all'); },
  rejectAll: function () { return choose([], 'reject_all'); },
  // vendors (vendor_choice): the vendors refused inside the allowed categories.
  save: function (categories, vendors) { return choose(categoriesExcept(function (c) { return categories.indexOf(c) >= 0; }), 'custom', vendors); },
  // "Do Not Sell or Share My Personal Information": held in this browser at once, whatever the gateway says.
  optOut: function () {
    if (!optOutRegion) writeCookie(OPTED_OUT, '1', 395 * 86400); // choose() sets it in opt-out regions
    return choose(categoriesExcept(function (c) { return isAllowed(c) && sale.indexOf(c) < 0; }), 'opt_out_link');
  },
  showPreferences: function () { ui.preferences(); },
  onChange: function (f) { listeners.push(f); },
  trace: function () { return TRACE; }
};

/* ---------- the banner ----------
 * Its code is the gateway's /ui.js (consent_ui/banner.js), loaded at start: cached for good by the
 * browser (the version is in its URL), so the script every page loads stays small. Calls made before
 * it has run wait in order. It hands over its functions on its own <script> element, and gets what a
 * page could have too (the API) plus a live view of the state. */
var ui = (function () {
  var code, calls = [], el;
  function later(name) {
    return function (arg) {
      if (code) return code[name](arg);
      calls.push([name, arg]);
      el = el || loadScript(BASE + '/ui.js?v=' + CONFIG.uiv, function () {
        code = el.tg && el.tg({config: CONFIG, api: api, base: BASE, warn: warn, now: function () {
          return {state: state, consent: consent, gpc: gpc, sale: sale, optOutRegion: optOutRegion, allowed: allowed, lang: lang, fab: fabLabel};
        }});
        if (!code) return warn('could not load the banner');
        calls.forEach(function (c) { code[c[0]](c[1]); });
      });
    };
  }
  return {mount: later('mount'), load: later('load'), banner: later('banner'), preferences: later('preferences'),
          close: later('close'), fab: later('fab'), notice: later('notice')};
})();

/* ---------- start ---------- */
installFirewall();
if (CONFIG.gcm) google.init();

function ask() { state = 'undecided'; ui.banner(); }

// The language the gateway answered in, picked there from the page's lang attribute (sent here), the
// browser's languages and the site's default: sent back with the choice, so the record holds the texts
// the visitor read, and with GET /ui. fabLabel: the floating button's label in it, if not the default's.
var lang, fabLabel;

// The gateway decides what applies here: it knows the visitor's region (the page does not), and
// this browser tells it about Global Privacy Control and its own opt-out marker. The answer is a
// stored choice, or the categories that fire without one (opt-out regions) and, when this browser
// has opted out (marker or GPC), the action to record; or nothing, and the banner asks.
function start() {
  ui.mount();
  gpc = navigator.globalPrivacyControl === true;
  request('GET', '/consent?gpc=' + +gpc + '&opted_out=' + +(readCookie(OPTED_OUT) === '1') +
          '&lang=' + encodeURIComponent(attr(dget('documentElement'), 'lang')), null, readCookie(COOKIE.name))
    .then(function (res) {
      lang = res.lang;
      fabLabel = res.fab;
      sale = res.sale;
      gpc = res.gpc;
      region = res.region.code;
      optOutRegion = !!res.notice;
      if (res.ui) ui.load(res.ui);
      if (res.consent) {
        // Vendors added since the choice: held back (by the gateway) and the visitor is asked again.
        apply(res.consent, res.reask);
        if (res.reask) ui.banner();
      } else {
        if (res.reason !== 'missing') { log('stored choice not used:', res.reason); writeCookie(COOKIE.name); }
        if (!res.defaults) return ask();
        state = 'undecided';
        settle(res.defaults);
        // Recorded (again on every page, until the gateway has it); the marker holds meanwhile.
        if (res.record) choose(categoriesExcept(isAllowed), res.record);
      }
      if (res.notice) ui.notice(res.notice);
    }, function (err) {
      warn('could not ask the gateway', err);
      ask();
    });
}

// The data layer: handle what was pushed before we loaded, then the page view (so it sees that model,
// as in GTM), then every later push.
var dl = w.dataLayer = w.dataLayer || [];
if (!Array.isArray(dl)) { warn('dataLayer is not an array'); dl = []; }
function handle(item) {
  if (!isPlain(item)) return; // gtag() pushes `arguments` objects: not ours
  model = merge(model, item); // a new object each push, so held occurrences keep the model as it was
  if (typeof item.event === 'string') occur('event', item.event, item);
}
function merge(a, b) { var o = {}, k; for (k in a) o[k] = a[k]; for (k in b) o[k] = isPlain(a[k]) && isPlain(b[k]) ? merge(a[k], b[k]) : b[k]; return o; }
dl.slice().forEach(handle);
occur('page_view', 'page_view', {});
var push = dl.push;
dl.push = function () {
  var result = push.apply(dl, arguments);
  for (var i = 0; i < arguments.length; i++) handle(arguments[i]);
  return result;
};

// The other trigger types in use start listening (consent_ui/triggers/).
var types = map();
CONFIG.tags.forEach(function (t) { types[t.trigger.type] = 1; });
for (var type in types) if (TRIGGERS[type].start) TRIGGERS[type].start();

if (PREVIEW) loadScript(BASE + '/preview.js?t=' + PREVIEW);
if (dget('body')) start(); else dcall('addEventListener', 'DOMContentLoaded', start);

/* The preview panel: why each tag fired or not, on the store's real pages (`gateway preview URL`).
 *
 * gateway/preview.py serves this file only for a valid, unexpired preview token of the site, as
 * (function(DATA){...})(<json>) with DATA = {site, expires, tags: [{id, name, category, kind, trigger,
 * when, delay?, setup?}], categories: {key: label}, fw: [[host, path, [tag indices]]]}; visitors never
 * load it. It reads the container's trace (tagGateway.trace(), recorded from the container's start):
 *   [occurrence]                      a page view, data-layer push, click, submit, ...
 *   [occurrence, tag]                 the tag fired on it
 *   [occurrence, tag, why, what]      the tag did not fire: 'consent' (what: the category), 'trigger',
 *                                     'setup' (what: the setup tag), 'delay', or a rule's own text
 *                                     ('condition false: "/cart" pre "/checkout"', 'blocked by: ...',
 *                                     'already fired for this key')
 *   [how, url, [tag indices]]         the consent firewall stopped a request
 * and the requests the page sent to the tags' hosts (resource timing), turns them into plain text, keeps
 * this tab's log in sessionStorage (tg_preview_log) so it survives page loads, and shows it in a shadow
 * root of its own. Everything is set as text (textContent): nothing from the page, the data layer or the
 * configuration is ever HTML or code. Its close button ends the preview for the tab.
 */
(function (DATA) {
  'use strict';
  var w = window, d = document;
  // As the container: `document` is read through its prototypes' getters (the page may clobber it).
  function real(name) {
    for (var o = Document.prototype, p; o; o = Object.getPrototypeOf(o)) if ((p = Object.getOwnPropertyDescriptor(o, name))) return p;
  }
  function dget(name) { return real(name).get.call(d); }
  function dcall(name, a, b) { return real(name).value.call(d, a, b); }
  function map() { return Object.create(null); }

  var api = w.tagGateway, TRACE = api && typeof api.trace === 'function' && api.trace();
  if (!TRACE || w.tgPreviewShown) return;
  w.tgPreviewShown = true;

  /* The token out of the page: a link with it leaks through copy-paste, screenshots, the next page's
   * Referer and the page URL tags send. The container has read it (it keeps it in sessionStorage), so
   * the address bar loses it (the rest of the URL and the hash kept; through History.prototype, so
   * neither the store's router nor the history_change trigger take it for a navigation), and so do
   * the occurrences: those held for a choice (already traced) and every later one (traced before its
   * tags fire). Tags that fired before this script loaded have sent it (README, Preview). */
  var TOKEN = /([?&])tg_preview=[\w.-]*(&|(?=#)|$)/;
  function clean(url) {
    while (typeof url === 'string' && TOKEN.test(url)) url = url.replace(TOKEN, function (all, before, after) { return after ? before : ''; });
    return url;
  }
  function scrub(o) {
    [o && o.page, o && o.type === 'history_change' && o.event].forEach(function (where) {
      if (where && typeof where === 'object') ['url', 'query', 'old_url', 'new_url'].forEach(function (k) {
        if (typeof where[k] === 'string' && clean(where[k]) !== where[k]) where[k] = clean(where[k]);
      });
    });
  }
  try {
    if (clean(location.href) !== location.href) History.prototype.replaceState.call(w.history, w.history.state, '', clean(location.href));
  } catch (err) { /* a sandboxed page: the address stays */ }
  TRACE.forEach(function (e) { if (e.length === 1) scrub(e[0]); });
  var tracePush = TRACE.push;
  TRACE.push = function (e) { if (e && e.length === 1) scrub(e[0]); return tracePush.apply(TRACE, arguments); };

  var KEY = 'tg_preview_log', MAX_PAGES = 15, MAX_ITEMS = 300, MAX_TEXT = 300;
  var byId = map();
  DATA.tags.forEach(function (t, i) { t.index = i; byId[t.id] = t; });
  var OPS = {eq: 'equals', has: 'contains', pre: 'starts with', suf: 'ends with', re: 'matches', 'in': 'is one of',
             gt: 'is greater than', ge: 'is at least', lt: 'is less than', le: 'is at most'};

  function clip(s) { s = String(s); return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + '…' : s; }
  function quote(s) { return '"' + clip(s) + '"'; }
  function storage() { try { return w.sessionStorage; } catch (err) { return null; } }

  var pages = [];
  try { pages = JSON.parse(storage().getItem(KEY) || '[]'); } catch (err) { pages = []; }
  if (!Array.isArray(pages)) pages = [];
  var page = {url: clip(location.href), at: Date.now(), items: []};
  pages.push(page);
  pages = pages.slice(-MAX_PAGES);

  /* ---------- the trace as plain text ---------- */
  function categoryText(key) {
    var label = DATA.categories[key];
    return label && label !== key ? quote(label) + ' (' + key + ')' : quote(key);
  }
  // 'condition false: "/cart" pre "/checkout"' -> the value seen, the test and what it was compared with.
  function ruleText(why) {
    var m = /^(condition false|blocked by): ("(?:[^"\\]|\\.)*") (not )?(\w+) ([\s\S]*)$/.exec(why), value;
    if (!m) return why;
    try { value = JSON.parse(m[2]); } catch (err) { value = m[2]; }
    var test = (m[3] ? 'not ' : '') + (OPS[m[4]] || m[4]) + ' ' + clip(m[5]);
    return (m[1] === 'blocked by' ? 'blocked by an unless condition: the value ' : 'a condition was false: the value ') +
      quote(value) + (m[1] === 'blocked by' ? ' ' : ', but it must be: ') + test;
  }
  function reason(tag, occ, why, what) {
    if (why === 'consent') return 'category ' + categoryText(what) + ' is not allowed' +
      (api.state === 'decided' ? ' by the visitor\'s choice' : ' (no choice yet: held until the visitor chooses)');
    if (why === 'trigger') return 'the trigger did not match: the tag wants ' + (tag.when || tag.trigger) + '; this was ' +
      occ.type + (occ.name && occ.name !== occ.type ? ' ' + quote(occ.name) : '') + ' on ' + quote(occ.path);
    if (why === 'setup') return 'its setup tag ' + quote(what) + ' may not fire (its category is not allowed)';
    if (why === 'delay') return 'waited ' + (tag.delay || 0) + ' ms, then ' + (what || 'could not fire');
    if (/^already fired/.test(why)) return why + ' (fire: once_per_...)';
    return ruleText(String(why));
  }

  var seen = [], occs = []; // the container's occurrence objects and their entries in page.items
  function occurrenceOf(o) {
    var i = seen.indexOf(o);
    if (i >= 0) return occs[i];
    var page0 = o.page || {}, entry = {n: seen.length + 1, type: String(o.type), name: clip(o.name),
      path: clip(page0.path || ''), tags: []};
    if (o.event && o.event.element) entry.element = clip(o.event.element.id ? '#' + o.event.element.id : o.event.element.text || '');
    seen.push(o);
    occs.push(entry);
    if (page.items.length < MAX_ITEMS) page.items.push({occ: entry});
    // Every tag of this trigger type gets a line, even before anything was decided for it.
    DATA.tags.forEach(function (t) { if (t.trigger === entry.type) lineOf(entry, t.id); });
    return entry;
  }
  function lineOf(entry, id) {
    for (var i = 0; i < entry.tags.length; i++) if (entry.tags[i].id === id) return entry.tags[i];
    var line = {id: id, outcomes: []};
    entry.tags.push(line);
    return line;
  }
  var lastFired = map(); // tag index -> the line it last fired on (this page), for the requests it sent
  function take(e) {
    if (typeof e[0] === 'string') { // the firewall stopped a request
      if (page.items.length < MAX_ITEMS) page.items.push({stop: {how: clip(e[0]), url: clip(e[1]),
        tags: [].map.call(e[2] || [], function (i) { return DATA.tags[i] ? DATA.tags[i].id : String(i); })}});
      return;
    }
    var entry = occurrenceOf(e[0]);
    if (e.length < 2 || !e[1]) return;
    var tag = byId[e[1].id] || {id: String(e[1].id), trigger: ''}, line = lineOf(entry, tag.id);
    if (e.length === 2) {
      line.outcomes.push({fired: true});
      lastFired[tag.index] = line;
    } else {
      line.outcomes.push({fired: false, why: clip(reason(tag, entry, e[2], e[3]))});
    }
  }

  /* ---------- the requests the tags' hosts received (resource timing) ---------- */
  function ruleOf(url) {
    var u;
    try { u = new URL(url, location.href); } catch (err) { return null; }
    var h = u.hostname, path = u.pathname + u.search;
    for (var i = 0; i < DATA.fw.length; i++) {
      var r = DATA.fw[i], host = r[0];
      if ((h === host || h.slice(-host.length - 1) === '.' + host) && path.indexOf(r[1]) === 0) return r;
    }
    return null;
  }
  var requests = [];
  function sent(url) {
    var rule = ruleOf(url), line = null;
    if (!rule) return;
    rule[2].forEach(function (i) { if (lastFired[i]) line = lastFired[i]; });
    if (line) {
      line.sent = line.sent || [];
      if (line.sent.length < 8) line.sent.push(clip(url));
    } else if (page.items.length < MAX_ITEMS) {
      page.items.push({request: {url: clip(url), tags: rule[2].map(function (i) { return DATA.tags[i].id; })}});
    }
  }
  if (w.PerformanceObserver) {
    try {
      new PerformanceObserver(function (list) {
        list.getEntries().forEach(function (r) { requests.push(r.name); });
      }).observe({type: 'resource', buffered: true});
    } catch (err) { /* an old browser: the requests stay unknown */ }
  }

  /* ---------- the panel ---------- */
  var host = dcall('createElement', 'div'), root, list, note, done = 0, ended = false, open = true;
  host.setAttribute('data-tag-gateway-preview', '');
  host.setAttribute('style', 'all:initial!important;display:block!important;position:fixed!important;z-index:2147483647!important;' +
                             'right:8px!important;top:8px!important'); // the banner is at the bottom
  root = host.attachShadow({mode: 'open'});
  function el(name, cls, text, parent) {
    var x = dcall('createElement', name);
    if (cls) x.className = cls;
    if (text != null) x.textContent = text;
    if (parent) parent.appendChild(x);
    return x;
  }
  el('style', '', [
    '.p{font:12px/1.4 system-ui,sans-serif;color:#111;background:#fff;border:1px solid #888;border-radius:6px;',
    'box-shadow:0 2px 12px rgba(0,0,0,.3);width:min(460px,calc(100vw - 16px));max-height:45vh;display:flex;flex-direction:column}',
    '.h{display:flex;gap:6px;align-items:center;padding:6px 8px;background:#1d3557;color:#fff;border-radius:6px 6px 0 0}',
    '.h b{flex:1}.h button{font:inherit;cursor:pointer;border:0;border-radius:4px;padding:2px 8px}',
    '.l{overflow:auto;padding:4px 8px}.pg{margin:6px 0 2px;font-weight:bold;color:#1d3557;word-break:break-all}',
    '.o{margin:4px 0;padding:4px;border-left:3px solid #1d3557;background:#f4f6f9}.t{margin:2px 0 2px 8px}',
    '.f{color:#0a6b2b}.n{color:#a4161a}.w{color:#666}.s{color:#a4161a;margin:4px 0}.r,.e{color:#555;margin-left:16px;word-break:break-all}',
    '.x{color:#666;padding:4px 8px}'
  ].join(''), root);
  var panel = el('div', 'p', null, root);
  panel.setAttribute('role', 'region');
  panel.setAttribute('aria-label', 'Tag preview');
  var head = el('div', 'h', null, panel);
  el('b', '', 'Tag preview: ' + DATA.site, head);
  var toggle = el('button', '', 'Hide', head);
  toggle.type = 'button';
  var close = el('button', '', 'End preview', head);
  close.type = 'button';
  list = el('div', 'l', null, panel);
  note = el('div', 'x', 'Until ' + new Date(DATA.expires * 1000).toLocaleTimeString() + ' in this tab', panel);
  toggle.addEventListener('click', function () {
    open = !open;
    list.hidden = note.hidden = !open;
    toggle.textContent = open ? 'Hide' : 'Show';
  });
  close.addEventListener('click', function () {
    ended = true;
    var s = storage();
    try { s.removeItem('tg_preview'); s.removeItem(KEY); } catch (err) { /* nothing kept */ }
    if (host.parentNode) host.parentNode.removeChild(host);
  });

  function outcomeText(o) { return o.fired ? 'fired' : 'not fired: ' + o.why; }
  function render() {
    while (list.firstChild) list.removeChild(list.firstChild);
    pages.forEach(function (p) {
      el('div', 'pg', (p === page ? 'This page: ' : 'Page: ') + p.url, list);
      if (!p.items.length) el('div', 'w', 'nothing happened yet', list);
      p.items.forEach(function (item) {
        if (item.stop) {
          el('div', 's', 'Stopped by the consent firewall (' + item.stop.how + ', tag ' + item.stop.tags.join(', ') +
             ' not allowed): ' + item.stop.url, list);
          return;
        }
        if (item.request) {
          el('div', 'r', 'Request to a host of ' + item.request.tags.join(', ') + ': ' + item.request.url, list);
          return;
        }
        var o = item.occ, box = el('div', 'o', null, list);
        el('div', '', o.n + '. ' + o.type + (o.name !== o.type ? ' ' + quote(o.name) : '') + ' on ' + o.path +
           (o.element ? ' (element ' + o.element + ')' : ''), box);
        if (!o.tags.length) el('div', 't w', 'no tag has this trigger type', box);
        o.tags.forEach(function (line) {
          var tag = byId[line.id] || {}, last = line.outcomes[line.outcomes.length - 1];
          var row = el('div', 't ' + (!last ? 'w' : last.fired ? 'f' : 'n'), null, box);
          row.setAttribute('data-tag', line.id);
          row.setAttribute('data-outcome', !last ? 'pending' : last.fired ? 'fired' : 'not-fired');
          row.textContent = line.id + (tag.name && tag.name !== line.id ? ' (' + tag.name + ')' : '') + ': ' +
            (!last ? (tag.delay ? 'waiting for its delay (' + tag.delay + ' ms)' : 'nothing decided yet') : outcomeText(last));
          if (line.outcomes.length > 1) {
            el('div', 'e', 'before: ' + line.outcomes.slice(0, -1).map(outcomeText).join('; then '), box);
          }
          (line.sent || []).forEach(function (url) { el('div', 'r', 'sent: ' + url, box); });
        });
      });
    });
    list.scrollTop = list.scrollHeight;
  }

  function save() {
    try { storage().setItem(KEY, JSON.stringify(pages)); } catch (err) { /* full or off: this page only */ }
  }
  function tick() {
    if (ended) return;
    var changed = done < TRACE.length || requests.length;
    for (; done < TRACE.length; done++) take(TRACE[done]);
    requests.splice(0).forEach(sent);
    if (DATA.expires * 1000 < Date.now()) note.textContent = 'This preview has ended: the next page will not show it';
    if (changed) { render(); save(); }
  }
  function mount() {
    var body = dget('body') || dget('documentElement');
    body.appendChild(host);
    render();
    tick();
    setInterval(tick, 250);
  }
  w.addEventListener('pagehide', tick);
  if (dget('body')) mount(); else dcall('addEventListener', 'DOMContentLoaded', mount);
})(__tg_preview__);

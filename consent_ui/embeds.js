/* Auto-blocking in the store's own HTML: part of the gateway's /ui.js, right after banner.js.
 *
 * A store marks what needs consent in its templates:
 *   <script type="text/plain" data-consent="marketing">...</script>        (inline, or with src)
 *   <iframe data-consent="marketing" data-src="https://..." title="..." data-provider="YouTube"></iframe>
 * The browser itself keeps both inert (a text/plain script never runs, an iframe without src loads
 * nothing), so nothing has to act before the page parses them: this code rides in /ui.js, which every
 * page loads at start and browsers keep for good, and costs the container (and its budget) nothing.
 *
 * When: the container calls the dialogs' functions at every change of the consent state (mount at
 * start, banner when a choice is needed, fab after each decision, notice after an opt-out region's
 * defaults, close when a choice is made, right before a withdrawal takes effect). So this file wraps
 * the functions banner.js hands over on this script element, and each call (and api.onChange)
 * schedules a sync of the page with what is allowed now (gateway.now().allowed, what tags obey too).
 *
 * Scripts: each runs once per page, in document order among those allowed together, as a new
 * <script> element (never eval) with the original's attributes and nonce; an external one loads
 * before the next runs, as the parser would have done. Iframes: a placeholder in a shadow root of its
 * own (store CSS cannot hide or restyle its text and button) stands in their place until their
 * category is allowed, and again after a withdrawal. Only http(s) URLs are ever assigned.
 *
 * Not a script by itself: it runs in /ui.js's one function after ui_common.js (d, dget, dcall and `me`,
 * this script's element, come from there) and banner.js (gateway/container.py build_ui_script).
 */
  if (typeof me.tg !== 'function') return; // banner.js did not run: nothing to wrap
  var banner = me.tg;
  var SCRIPTS = 'script[type="text/plain"][data-consent]', FRAMES = 'iframe[data-consent][data-src]';
  var CSS = '.tg-embed{box-sizing:border-box;width:100%;height:100%;overflow:auto;display:flex;flex-direction:column;' +
    'align-items:center;justify-content:center;gap:12px;padding:16px;border:1px solid #8a8f99;border-radius:8px;' +
    'background:#f3f4f6;color:#1b1d22;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:center}' +
    'p{margin:0;max-width:36em}' +
    'button{min-height:44px;padding:10px 16px;border:2px solid #1b1d22;border-radius:8px;background:#1b1d22;color:#fff;' +
    'font:inherit;font-weight:600;cursor:pointer}' +
    'button:focus-visible{outline:3px solid #1f4fd1;outline-offset:2px}';

  function map() { return Object.create(null); }
  function attr(el, name) { return Element.prototype.getAttribute.call(el, name); }
  function make(tag) { return dcall('createElement', tag); }

  // What an iframe may load: an http(s) URL, relative ones resolved against the page. Anything else
  // (javascript:, data:, blob:, an empty value that would embed the page itself) is never assigned.
  function safeUrl(value) {
    var u;
    if (!/\S/.test(value || '')) return null;
    try { u = new URL(value, dget('baseURI')); } catch (err) { return null; }
    return /^https?:$/.test(u.protocol) ? u : null;
  }
  // The iframe's width/height attribute as CSS (digits, px or %): nothing else of the page reaches the style.
  function size(frame, name, fallback) {
    var m = /^\s*(\d+(?:\.\d+)?)(px|%)?\s*$/.exec(attr(frame, name) || '');
    return m ? m[1] + (m[2] || 'px') : fallback;
  }
  // The placeholder's box: exactly the iframe's, read while the iframe is still in the page, so swapping one
  // for the other shifts nothing (its border box in px, its margins, its alignment in the line, whether it is
  // a block, its max-width). Only numbers and keywords that pass these patterns reach the host's style; a frame not
  // rendered (display:none, or not yet laid out) falls back to its width/height attributes.
  function frameBox(frame) {
    var s = getComputedStyle(frame), r = frame.getBoundingClientRect(), css = '', va = s.verticalAlign;
    function px(v) { return (Math.round(parseFloat(v) * 100) / 100 || 0) + 'px'; }
    if (!r.width && !r.height) return 'max-width:100%!important;width:' + size(frame, 'width', '300px') + '!important;height:' + size(frame, 'height', '150px') + '!important;';
    ['top', 'right', 'bottom', 'left'].forEach(function (side) { css += 'margin-' + side + ':' + px(s['margin-' + side]) + '!important;'; });
    if (s.display === 'block') css += 'display:block!important;';
    // Its max-width, and never wider than its container in any case: an embed too wide for a phone would
    // widen the whole page (zoomed out, the banner out of reach); that one's placeholder is narrower than it.
    css += 'max-width:' + (/^\d+(\.\d+)?(px|%)$/.test(s.maxWidth) ? s.maxWidth : '100%') + '!important;';
    if (/^(left|right)$/.test(s.cssFloat)) css += 'float:' + s.cssFloat + '!important;';
    if (/^([a-z-]+|-?\d+(\.\d+)?px)$/.test(va)) css += 'vertical-align:' + va + '!important;';
    return css + 'width:' + px(r.width) + '!important;height:' + px(r.height) + '!important;';
  }

  me.tg = function (gateway) {
    var ui = banner(gateway), api = gateway.api, CONFIG = gateway.config;
    // Only for a site whose owner turned it on (site.auto_blocking): it makes inert markup run.
    if (!CONFIG.embeds) return ui;
    var known = map(), warned = map(), labels = map(), asked = map();
    var handled = new WeakMap(); // scripts queued or run, iframes adopted or refused: each looked at once
    var queue = [], busy = false, frames = [], scheduled = false;
    CONFIG.categories.forEach(function (c) { known[c] = 1; });

    function warnOnce(key, msg) { if (!warned[key]) { warned[key] = 1; gateway.warn(msg); } }
    // The element's category if this site has it; an unknown one never activates (a typo must not
    // load a tracker, nor may a category the config dropped).
    function category(el) {
      var c = attr(el, 'data-consent');
      if (known[c] === 1) return c;
      warnOnce('c' + c, 'data-consent="' + c + '" is no category of this site: the element stays blocked');
    }

    function schedule() {
      if (scheduled) return;
      scheduled = true;
      Promise.resolve().then(sync); // after the container's own step (close() comes before the withdrawal)
    }

    function sync() {
      scheduled = false;
      if (dget('readyState') === 'loading') return; // DOMContentLoaded schedules again: scripts whole, in order
      var state = gateway.now(), allowed = state.allowed;
      [].forEach.call(dcall('querySelectorAll', SCRIPTS), function (s) {
        var c = !handled.has(s) && category(s);
        if (c && allowed[c] === 1) { handled.set(s, 1); queue.push(s); }
      });
      run();
      // Embeds wait until the stored choice is known: a visitor who allowed them sees no placeholder flash.
      if (state.state === 'loading') return;
      [].forEach.call(dcall('querySelectorAll', FRAMES), adopt);
      frames = frames.filter(function (r) { return r.frame.isConnected || (r.host && r.host.isConnected); });
      frames.forEach(function (r) { show(r, allowed[r.category] === 1); });
    }

    /* ---------- scripts ---------- */
    function run() {
      while (!busy && queue.length) {
        var old = queue.shift(), s = make('script'), nonce = old.nonce || attr(old, 'nonce');
        [].forEach.call(old.attributes, function (a) {
          if (!/^(type|data-consent|nonce)$/i.test(a.name)) s.setAttribute(a.name, a.value);
        });
        // A store with a CSP gives its blocked scripts the page's nonce; the browser hides the attribute,
        // the property keeps it. Scripts without it stay refused by the CSP, as they would have been.
        if (nonce) s.nonce = nonce;
        if (!s.hasAttribute('src')) s.text = old.text; // the page's own markup, run as the parser would have
        else if (!old.hasAttribute('async')) {
          busy = true;
          s.addEventListener('load', next);
          s.addEventListener('error', next);
        }
        // Beside the original, so a script that looks at document.currentScript finds itself in place.
        var parent = old.parentNode || dget('head') || dget('documentElement');
        parent.insertBefore(s, old.parentNode === parent ? old.nextSibling : null);
      }
    }
    function next() { busy = false; run(); }

    /* ---------- iframes ---------- */
    function adopt(frame) {
      if (handled.has(frame)) return;
      handled.set(frame, 1);
      var c = category(frame), url = c && safeUrl(attr(frame, 'data-src'));
      if (!c) return;
      if (!url) return warnOnce('u' + attr(frame, 'data-src'), 'data-src is not an http(s) URL: the iframe stays empty');
      frames.push({frame: frame, category: c, url: url.href, on: null,
                   provider: attr(frame, 'data-provider') || attr(frame, 'title') || url.host});
    }

    function show(r, on) {
      if (r.on === on) return;
      r.on = on;
      var frame = r.frame, host = r.host;
      if (on) {
        var focused = host && host.shadowRoot.activeElement; // the visitor pressed its button: stay there
        frame.src = r.url;
        if (host && host.parentNode) host.parentNode.replaceChild(frame, host);
        if (focused) frame.focus();
        return;
      }
      var had = dget('activeElement') === frame;
      // Detached, the iframe's document is gone; without src, putting it back loads nothing.
      frame.removeAttribute('src');
      if (!host) host = r.host = placeholder(r);
      if (frame.parentNode) frame.parentNode.replaceChild(host, frame);
      if (had) r.button.focus();
    }

    // The placeholder: a shadow root of its own, so store CSS neither hides its button nor restyles its text,
    // and a host with !important inline styles in the iframe's box (frameBox: no layout shift either way).
    function placeholder(r) {
      var host = make('span'), root, box = make('div'), text = make('p'), button = make('button'), style = make('style');
      host.setAttribute('data-tag-gateway-embed', '');
      // overflow:hidden: its baseline is its bottom edge, as an iframe's is (the same place in a line of text).
      host.setAttribute('style', 'all:initial!important;display:inline-block!important;vertical-align:baseline!important;' +
        'box-sizing:border-box!important;overflow:hidden!important;' + frameBox(r.frame));
      root = host.attachShadow({mode: 'open'});
      style.textContent = CSS;
      box.className = 'tg-embed';
      text.id = 'tg-embed-text';
      button.type = 'button';
      button.setAttribute('aria-describedby', text.id);
      // A consent like any other (logged as `custom`): what is allowed now, and this embed's category.
      button.addEventListener('click', function () {
        var now = gateway.now().allowed;
        api.save(CONFIG.categories.filter(function (c) { return now[c] === 1 || c === r.category; }));
      });
      box.appendChild(text);
      box.appendChild(button);
      root.appendChild(style);
      root.appendChild(box);
      r.text = text;
      r.button = button;
      r.box = box;
      say(r);
      return host;
    }

    // Text only, never markup: the provider comes from the page, the label from the dialogs' markup (the
    // configuration's own words), fetched by banner.js the first time an embed needs it.
    // The English wording until the dialogs' own (their language, the site's words) has arrived.
    var words = {text: 'This content is from {provider} and needs {category} consent.', button: 'Allow and load', lang: 'en'};
    function say(r) {
      var c = r.category;
      // One pass with a function: what is filled in (a provider name from the page) is never read again.
      r.text.textContent = words.text.replace(/\{(provider|category)\}/g, function (all, key) {
        return key === 'provider' ? r.provider : labels[c] || c;
      });
      r.button.textContent = words.button;
      r.box.setAttribute('lang', words.lang);
      if (labels[c] || asked[c]) return;
      asked[c] = 1;
      if (ui.label) ui.label(c, function (label, texts) {
        labels[c] = label;
        if (texts && texts.text) words = texts;
        frames.forEach(function (f) { if (f.text) say(f); });
      });
    }

    function start() {
      new MutationObserver(function (records) {
        var sel = SCRIPTS + ',' + FRAMES;
        records.forEach(function (rec) {
          [].forEach.call(rec.addedNodes, function (n) {
            if (n.nodeType === 1 && (Element.prototype.matches.call(n, sel) || Element.prototype.querySelector.call(n, sel))) schedule();
          });
        });
      }).observe(dget('documentElement'), {childList: true, subtree: true});
      schedule();
    }

    api.onChange(schedule);
    if (dget('readyState') === 'loading') dcall('addEventListener', 'DOMContentLoaded', start); else start();

    // The container's calls pass through, each followed by a sync.
    var out = {};
    Object.keys(ui).forEach(function (name) {
      out[name] = function (arg) { schedule(); return ui[name](arg); };
    });
    return out;
  };

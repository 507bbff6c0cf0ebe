/* The consent banner and preferences dialog: the gateway's /ui.js, never part of the container.
 *
 * The container (runtime.js) loads this script at start, with a version in its URL so browsers keep it
 * cached for good, and queues its calls to the dialogs until it has run. This script hands the
 * container its functions through a property of its own <script> element (no global name a page's
 * markup could clobber); the container passes back what the dialogs need: its config, the public API
 * (every button calls only what a page could call too) and a view of the consent state.
 *
 * Everything is drawn inside an open shadow root. The container's config carries the base styles and
 * the floating button (`ui`); the dialogs' markup comes with the gateway's answer when a choice is
 * needed, or from GET /ui when a visitor with a stored choice opens the preferences. Both are rendered
 * on the server by Jinja2 with autoescaping from the owner's texts and hold no visitor or page data,
 * so assigning them as innerHTML is safe. Anything dynamic is set with properties (checked, hidden),
 * never as HTML. The host element carries !important inline styles: the store's CSS cannot hide,
 * shrink or transform it, and its selectors do not reach inside the shadow root.
 *
 * Not a script by itself: /ui.js is one function (gateway/container.py build_ui_script) that starts with
 * ui_common.js, where `d` (the document), the DOM-clobbering-safe readers dget/dcall and `me` (this
 * script's element) come from; embeds.js follows this file.
 */
  me.tg = function (gateway) {
    var CONFIG = gateway.config, api = gateway.api;
    // `all:initial` resets every property the store's CSS could set (position, transform, opacity,
    // filter, clip-path, ...); !important inline beats any stylesheet.
    var HOST_STYLE = 'all:initial!important;display:block!important;width:0!important;height:0!important';
    var host, root, banner, layer, dialog, fab, notice, loading, lastFocus = null;

    function now() { return gateway.now(); } // {state, consent, gpc, sale, optOutRegion, allowed}: live
    function isAllowed(category) { return now().allowed[category] === 1; }
    function q(sel) { return root.querySelector(sel); }
    function visible(el) { return el && !el.hidden; }
    function boxes() { return [].slice.call(root.querySelectorAll('input[data-category]')); }
    // Per-vendor switches (site.vendor_choice): data-vendor, inside the category data-of.
    function vendorBoxes() { return [].slice.call(root.querySelectorAll('input[data-vendor]')); }
    function focusables(el) {
      return [].filter.call(el.querySelectorAll('button,input,a[href]'), function (x) { return !x.disabled && x.offsetParent !== null; });
    }
    function remember() {
      var active = dget('activeElement');
      if (lastFocus === null) lastFocus = active === host ? null : active || dget('body');
    }
    function restore() {
      var target = lastFocus;
      lastFocus = null;
      if (root.activeElement) root.activeElement.blur();
      if (target && target !== dget('body') && target.focus && dcall('contains', target)) target.focus();
    }

    function mount() {
      host = dcall('createElement', 'div');
      host.setAttribute('data-tag-gateway', '');
      host.setAttribute('style', HOST_STYLE);
      root = host.attachShadow({mode: 'open'});
      root.innerHTML = CONFIG.ui;
      fab = q('.tg-fab');
      // First in the body: screen readers meet the choice first, and when the banner closes the
      // next Tab continues at the top of the page rather than past its end.
      var body = dget('body');
      body.insertBefore(host, body.firstChild);
      root.addEventListener('click', onClick);
      root.addEventListener('keydown', onKey);
      root.addEventListener('change', onChange);
    }

    function onClick(e) {
      var el = e.target.closest && e.target.closest('[data-tg]');
      if (!el) return;
      var action = el.getAttribute('data-tg');
      if (action === 'accept') decide(api.acceptAll);
      else if (action === 'reject') decide(api.rejectAll);
      else if (action === 'save') decide(save());
      else if (action === 'customize' || action === 'settings') preferences();
      else if (action === 'close') closePreferences();
      else if (action === 'optout') { api.optOut(); notice.className = 'tg-out'; } // the notice's CSS shows "Honored"
      else if (action === 'dismiss') { notice.hidden = true; showFab(); }
    }

    // A choice closes the dialog at once and is made a task later: the browser paints the visitor's click
    // before the work it starts (withdrawing, cookies, the request; then the tags), which keeps the
    // interaction fast (bench: "Accept all click -> next frame").
    function decide(choose) {
      close();
      setTimeout(choose);
    }

    // The checked categories, and the vendors switched off inside them (only those: a vendor of a category
    // left off is refused with it). A vendor in two categories is refused if switched off in any allowed one.
    // Read now, while the dialog shows them; returns the choice to make.
    function save() {
      var chosen = boxes().filter(function (i) { return i.checked; }).map(function (i) { return i.getAttribute('data-category'); });
      var off = [];
      vendorBoxes().forEach(function (i) {
        var key = i.getAttribute('data-vendor');
        if (!i.checked && chosen.indexOf(i.getAttribute('data-of')) >= 0 && off.indexOf(key) < 0) off.push(key);
      });
      return function () { api.save(chosen, CONFIG.vc ? off : undefined); };
    }

    // A category switched on or off switches its vendors with it; a vendor switched on switches its category on.
    function onChange(e) {
      var el = e.target, category = el.getAttribute('data-category'), of = el.getAttribute('data-of');
      if (category) vendorBoxes().forEach(function (i) { if (i.getAttribute('data-of') === category) i.checked = el.checked; });
      else if (of && el.checked) boxes().forEach(function (i) { if (i.getAttribute('data-category') === of) i.checked = true; });
    }

    function add(html) {
      var box = dcall('createElement', 'div');
      box.innerHTML = html;
      root.appendChild(box);
      return box;
    }
    function load(html) {
      if (banner) return;
      add(html);
      banner = q('.tg-banner'); layer = q('.tg-layer'); dialog = q('.tg-prefs');
    }
    // Run `then` once the dialogs are there, fetching them first if need be.
    function withDialogs(then) {
      if (banner) return then();
      // In the language GET /consent answered in (none: the site's default).
      if (!loading) loading = fetch(gateway.base + '/ui' + (now().lang ? '?lang=' + encodeURIComponent(now().lang) : '')).then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); }).then(load);
      loading.then(then, function (err) { loading = null; gateway.warn('could not load the banner', err); });
    }

    function onKey(e) {
      if (!visible(layer)) return;
      if (e.key === 'Escape') { e.preventDefault(); closePreferences(); return; }
      if (e.key !== 'Tab') return;
      // Keep focus inside the modal preferences dialog.
      var items = focusables(dialog), first = items[0], last = items[items.length - 1];
      var active = root.activeElement;
      if (e.shiftKey && (active === first || active === dialog)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
    }

    function showBanner() {
      withDialogs(function () {
        remember();
        fab.hidden = true;
        banner.hidden = false;
        banner.focus();
      });
    }

    function preferences() {
      if (root) withDialogs(function () {
        var state = now(), consent = state.consent;
        remember();
        // What is allowed now: never pre-ticked before a choice in opt-in regions.
        boxes().forEach(function (input) { input.checked = isAllowed(input.getAttribute('data-category')); });
        var refused = (consent && consent.vendors_refused) || [];
        vendorBoxes().forEach(function (input) {
          input.checked = isAllowed(input.getAttribute('data-of')) && refused.indexOf(input.getAttribute('data-vendor')) < 0;
        });
        // Global Privacy Control honoured: said here too (CPRA regs §7025(c)(6)).
        q('.tg-gpc').hidden = !(state.gpc && state.sale.some(function (c) { return !isAllowed(c); }));
        var id = q('.tg-id');
        id.hidden = !consent;
        if (consent) id.lastChild.textContent = consent.id; // text, never markup
        banner.hidden = true;
        fab.hidden = true;
        layer.hidden = false;
        dialog.focus();
      });
    }

    function closePreferences() {
      layer.hidden = true;
      var state = now();
      if (state.state !== 'decided' && !state.optOutRegion) { banner.hidden = false; banner.focus(); return; }
      showFab();
      restore();
    }

    // In opt-out regions the way to opt out stays on every page: the notice, then this button.
    function showFab() {
      var state = now();
      // The container's button is labelled in the default language; the gateway names the visitor's.
      if (state.fab) { fab.setAttribute('aria-label', state.fab); fab.title = state.fab; }
      fab.hidden = !CONFIG.fab || (state.state !== 'decided' && !state.optOutRegion) || visible(notice);
    }

    // The notice at collection for opt-out regions: markup from the gateway (see notice.html.j2).
    function showNotice(html) {
      notice = add(html);
      showFab();
    }

    function close() {
      if (banner) banner.hidden = layer.hidden = true;
      restore();
    }

    // A category's label as the preferences show it (the configuration's own words) and the placeholder's
    // texts in the dialogs' language, for the placeholders of blocked embeds (embeds.js); fetches the
    // dialogs if they are not here yet.
    function label(category, then) {
      if (root) withDialogs(function () {
        var texts = q('.tg-embed-texts');
        texts = texts && {text: texts.getAttribute('data-text'), button: texts.getAttribute('data-button'), lang: dialog.getAttribute('lang') || 'en'};
        boxes().forEach(function (i) { if (i.getAttribute('data-category') === category && i.labels[0]) then(i.labels[0].textContent, texts); });
      });
    }

    return {mount: mount, load: load, banner: showBanner, preferences: preferences, close: close, fab: showFab, notice: showNotice, label: label};
  };

/* The consent banner and preferences dialog, inside an open shadow root.
 *
 * CONFIG.ui is markup rendered on the server by Jinja2 with autoescaping from the
 * owner's texts; it holds no visitor or page data, so assigning it as innerHTML is
 * safe. Anything dynamic is set with properties (checked, hidden), never as HTML.
 * The host element carries !important inline styles: the store's CSS cannot hide,
 * shrink or transform it, and its selectors do not reach inside the shadow root.
 */
var ui = (function () {
  // `all:initial` resets every property the store's CSS could set (position, transform, opacity,
  // filter, clip-path, ...); !important inline beats any stylesheet.
  var HOST_STYLE = 'all:initial!important;display:block!important;width:0!important;height:0!important';
  var host, root, banner, layer, dialog, fab, lastFocus = null;

  function q(sel) { return root.querySelector(sel); }
  function visible(el) { return el && !el.hidden; }
  function boxes() { return [].slice.call(root.querySelectorAll('input[data-category]')); }
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
    banner = q('.tg-banner'); layer = q('.tg-layer'); dialog = q('.tg-prefs'); fab = q('.tg-fab');
    // First in the body: screen readers meet the choice first, and when the banner closes the
    // next Tab continues at the top of the page rather than past its end.
    var body = dget('body');
    body.insertBefore(host, body.firstChild);
    root.addEventListener('click', onClick);
    root.addEventListener('keydown', onKey);
  }

  function onClick(e) {
    var el = e.target.closest && e.target.closest('[data-tg]');
    if (!el) return;
    var action = el.getAttribute('data-tg');
    if (action === 'accept') api.acceptAll();
    else if (action === 'reject') api.rejectAll();
    else if (action === 'save') api.save(boxes().filter(function (i) { return i.checked; }).map(function (i) { return i.getAttribute('data-category'); }));
    else if (action === 'customize' || action === 'settings') preferences();
    else if (action === 'close') closePreferences();
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
    remember();
    fab.hidden = true;
    banner.hidden = false;
    banner.focus();
  }

  function preferences() {
    if (!root) return;
    remember();
    var granted = consent ? consent.categories : [];
    boxes().forEach(function (input) {
      var c = input.getAttribute('data-category');
      input.checked = c === 'necessary' || granted.indexOf(c) >= 0; // never pre-ticked before a choice
    });
    banner.hidden = true;
    fab.hidden = true;
    layer.hidden = false;
    dialog.focus();
  }

  function closePreferences() {
    layer.hidden = true;
    if (state !== 'decided') { banner.hidden = false; banner.focus(); return; }
    showFab();
    restore();
  }

  function showFab() { fab.hidden = !CONFIG.fab || state !== 'decided'; }

  function close() {
    banner.hidden = true;
    layer.hidden = true;
    restore();
  }

  return {mount: mount, banner: showBanner, preferences: preferences, close: close, fab: showFab};
})();

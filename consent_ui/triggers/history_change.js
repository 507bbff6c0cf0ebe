/* history_change: a single-page store changed its URL (pushState, replaceState, back/forward, #hash).
 * One occurrence per new URL; vendors get it as a page view of that URL. */
TRIGGERS.history_change = {match: always, start: function () {
  var last = location.href;
  // A task later: the store's router sets the new title (and, on back/forward, its own state) after
  // the URL changed, and the page view should carry them.
  function changed(how) { setTimeout(function () { seen(how); }); }
  function seen(how) {
    if (location.href === last) return;
    var old = last;
    last = location.href;
    occur('history_change', 'page_view', {old_url: old, new_url: last, source: how});
  }
  var h = w.history;
  if (!(h instanceof History)) return warn('window.history is not a History: no history_change triggers');
  ['pushState', 'replaceState'].forEach(function (name) {
    var native = h[name];
    h[name] = function () { var result = native.apply(this, arguments); changed(name); return result; };
  });
  var on = EventTarget.prototype.addEventListener; // the real method, whatever the page put on window
  on.call(w, 'popstate', function () { changed('popstate'); });
  on.call(w, 'hashchange', function () { changed('hashchange'); });
}};

/* history_change: a single-page store changed its URL (pushState, replaceState, back/forward, #hash).
 * One occurrence per new URL; vendors get it as a page view of that URL. */
TRIGGERS.history_change = {match: always, start: function () {
  var last = location.href;
  function changed(how) {
    if (location.href === last) return;
    var old = last;
    last = location.href;
    occur('history_change', 'page_view', {old_url: old, new_url: last, source: how});
  }
  ['pushState', 'replaceState'].forEach(function (name) {
    var native = history[name];
    history[name] = function () { var result = native.apply(this, arguments); changed(name); return result; };
  });
  w.addEventListener('popstate', function () { changed('popstate'); });
  w.addEventListener('hashchange', function () { changed('hashchange'); });
}};

/* window_loaded: once the page and its images have loaded (load), or at once if that has happened. A page view to vendors. */
TRIGGERS.window_loaded = {match: always, start: function () {
  function loaded() { occur('window_loaded', 'page_view', {}); }
  if (dget('readyState') === 'complete') loaded(); else EventTarget.prototype.addEventListener.call(w, 'load', loaded);
}};

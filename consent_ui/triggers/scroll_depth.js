/* scroll_depth: the visitor has seen `thresholds` percent of the page height; each threshold once per
 * page (a page shorter than the window reaches them at once). {{ event.threshold }} is the percentage. */
TRIGGERS.scroll_depth = {match: function (t, occ) { return t.thresholds.indexOf(occ.event.threshold) >= 0; }, start: function () {
  var all = [], done = map(), waiting = 0;
  CONFIG.tags.forEach(function (tag) { if (tag.trigger.type === 'scroll_depth') all = all.concat(tag.trigger.thresholds); });
  all.sort(function (a, b) { return a - b; });
  function check() {
    waiting = 0;
    var root = dget('documentElement'), seen = (w.pageYOffset + w.innerHeight) / Math.max(root.scrollHeight, 1) * 100;
    all.forEach(function (p) { if (!done[p] && seen >= p - 0.5) { done[p] = 1; occur('scroll_depth', 'scroll', {threshold: p}); } });
  }
  EventTarget.prototype.addEventListener.call(w, 'scroll', function () { if (!waiting) waiting = setTimeout(check, 100); }, {passive: true});
  check();
}};

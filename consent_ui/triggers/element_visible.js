/* element_visible: an element matching `selector` is at least `share` percent in view (default 50).
 * Elements added later are watched too. Once per element, or each time it comes into view with every_time. */
TRIGGERS.element_visible = {match: sigMatch, start: function () {
  if (!w.IntersectionObserver || !w.WeakSet) return warn('this browser cannot tell visibility: element_visible tags are off');
  sigsOf('element_visible').forEach(function (t) {
    var share = (t.share || 50) / 100, watched = new WeakSet(), pending = 0;
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        if (!en.isIntersecting || en.intersectionRatio < share - 0.01) return;
        if (!t.every_time) io.unobserve(en.target);
        occur('element_visible', 'element_visible', {element: elementInfo(en.target), share: Math.round(en.intersectionRatio * 100)}, {sig: t.sig});
      });
    }, {threshold: share});
    function scan() {
      pending = 0;
      [].forEach.call(dcall('querySelectorAll', t.selector), function (el) { if (!watched.has(el)) { watched.add(el); io.observe(el); } });
    }
    scan();
    new MutationObserver(function () { if (!pending) pending = setTimeout(scan, 50); })
      .observe(dget('documentElement'), {childList: true, subtree: true});
  });
}};

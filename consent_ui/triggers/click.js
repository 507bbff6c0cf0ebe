/* click: one capturing listener on the document, so elements added later count too. Per click, one
 * occurrence for each distinct (selector, links_only) the tags use: with links_only the link clicked
 * (inside `selector` when given), else the element matching `selector`, else the element clicked. */
TRIGGERS.click = {match: sigMatch, start: function () {
  var sigs = sigsOf('click');
  if (sigs.length) dcall('addEventListener', 'click', function (e) {
    var target = e.target;
    if (!target || !target.closest) return;
    sigs.forEach(function (t) {
      var el = t.links_only ? target.closest('a[href]') : t.selector ? target.closest(t.selector) : target;
      if (el && t.links_only && t.selector && !el.closest(t.selector)) el = null;
      if (el) occur('click', 'click', {element: elementInfo(el)}, {sig: t.sig});
    });
  }, true);
}};

/* Firing rules (gateway/triggers.py): once per page, per browser session, per visitor, or per key
 * (e.g. the transaction id: a reloaded thank-you page does not count an order twice). Session and
 * visitor marks are first-party cookies (tg_fs until the browser closes, tg_fv for 13 months), shared
 * by tabs and, with site.cookie_domain, by the store's subdomains. They are written only when the tag
 * fires, so only once its category is allowed, and hold short hashes of tag and key, never the key. */
var firedOnPage = map();
function markOf(tag, occ) {
  var key = tag.once.key ? resolve(tag.once.key, occ) : '';
  if (key == null) return null; // no key on this occurrence: nothing to de-duplicate by
  for (var s = tag.id + '|' + text(key), h = 2166136261, i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h.toString(36);
}
function marksIn(tag) {
  if (tag.once === 'page') return firedOnPage;
  var list = readCookie(tag.once === 'session' ? 'tg_fs' : 'tg_fv'), out = map();
  (list ? list.split('.') : []).forEach(function (m) { out[m] = 1; });
  return out;
}
GATES.push(function (tag, occ) {
  var mark = tag.once && markOf(tag, occ);
  if (mark && marksIn(tag)[mark]) return 'already fired ' + (tag.once.key ? 'for this key' : 'once per ' + tag.once);
});
AFTER.push(function (tag, occ) {
  var mark = tag.once && markOf(tag, occ), name = tag.once === 'session' ? 'tg_fs' : 'tg_fv';
  if (!mark) return;
  if (tag.once === 'page') return (firedOnPage[mark] = 1);
  var list = Object.keys(marksIn(tag)).concat(mark).slice(-40); // the newest 40: the cookie stays under 400 bytes
  writeCookie(name, list.join('.'), tag.once === 'session' ? 0 : 395 * 86400);
});
// A withdrawal takes the marks along: they were written for tags the visitor no longer allows, and a
// hash cannot tell whose it is, so both cookies go (a tag allowed again may then fire once more).
// (Through EventTarget's own method, as the runtime reads `document` through its prototypes: the page's
// scripts or markup never decide which function is called.)
EventTarget.prototype.addEventListener.call(window, 'tag-gateway:consent', function () {
  if (CONFIG.tags.some(function (t) { return t.once && t.once !== 'page' && !isAllowed(t.category); })) {
    writeCookie('tg_fs');
    writeCookie('tg_fv');
  }
});

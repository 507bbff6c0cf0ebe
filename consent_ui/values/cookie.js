/* {{ cookie.<name> }}: a first-party cookie's value as the page sees it now (URL-decoded). */
ROOTS.cookie = function (path) {
  var found;
  cookies().split(/;\s*/).forEach(function (pair) {
    var i = pair.indexOf('=');
    if (found !== undefined || pair.slice(0, i) !== path[1]) return;
    try { found = decodeURIComponent(pair.slice(i + 1)); } catch (err) { found = pair.slice(i + 1); }
  });
  return found;
};

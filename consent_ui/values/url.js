/* {{ url.href / host / path / fragment }} and {{ url.query.<name> }} (the first value), of the URL the occurrence happened on. */
ROOTS.url = function (path, ctx) {
  var u = new URL(ctx.page.url), q = map();
  u.searchParams.forEach(function (value, key) { if (!(key in q)) q[key] = value; });
  return walk({href: u.href, host: u.host, path: u.pathname, fragment: u.hash.slice(1), query: q}, path);
};

/* image: a pixel GET. Every parameter value is URL-encoded; a lone placeholder that resolves to nothing drops its parameter. */
KINDS.image = {
  fire: function (tag, occ) {
    var params = resolve(tag.params, occ), query = [];
    for (var k in params) {
      if (params[k] != null) query.push(encodeURIComponent(k) + '=' + encodeURIComponent(text(params[k])));
    }
    sendPixel(tag.url + (query.length ? (tag.url.indexOf('?') < 0 ? '?' : '&') + query.join('&') : ''));
  }
};

/* image: a pixel GET. Every parameter value is URL-encoded; a lone placeholder that resolves to nothing drops its parameter. */
KINDS.image = {
  fire: function (tag, occ) {
    var params = resolve(tag.params, occ), query = [];
    for (var k in params) {
      if (params[k] != null) query.push(encodeURIComponent(k) + '=' + encodeURIComponent(text(params[k])));
    }
    var url = tag.url + (query.length ? (tag.url.indexOf('?') < 0 ? '?' : '&') + query.join('&') : '');
    // A keepalive fetch, not new Image(): an identical image URL is served from the page's image
    // cache without a request (two equal conversions would count once), and keepalive lets a
    // pixel fired by a click on a link outlive the navigation. Cookies go along as with an image.
    if (w.fetch) fetch(url, {mode: 'no-cors', credentials: 'include', cache: 'no-store', keepalive: true})['catch'](function () {});
    else new Image(1, 1).src = url;
  }
};

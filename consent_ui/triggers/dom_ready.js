/* dom_ready: once the HTML is parsed (DOMContentLoaded), or at once if that has happened. Sent to vendors as a page view. */
TRIGGERS.dom_ready = {match: always, start: function () {
  function ready() { occur('dom_ready', 'page_view', {}); }
  if (dget('readyState') === 'loading') dcall('addEventListener', 'DOMContentLoaded', ready); else ready();
}};

/* script: load `src` once per page, then (or, with init_runs: before_load, first) run the owner's `init` snippet on every firing, in order,
 * as its own <script> element (a broken snippet breaks only itself). `tagGateway.event` holds the
 * triggering event while the snippet runs. */
KINDS.script = {
  fire: function (tag, occ) {
    function init() {
      var s = dcall('createElement', 'script');
      if (NONCE) s.nonce = NONCE;
      s.text = tag.init;
      api.event = occ.event; // what the snippet can read while it runs synchronously
      (dget('head') || dget('documentElement')).appendChild(s);
      api.event = null;
      s.parentNode.removeChild(s);
    }
    if (tag.first) { init(); loadScript(tag.src); } // init_runs: before_load, as vendor snippets set up their queue
    else if (tag.src) loadScript(tag.src, tag.init && init); else if (tag.init) init();
  }
};

/* script: load `src` once per page, then run the owner's `init` snippet on every firing, in order,
 * as its own <script> element (a broken snippet breaks only itself). `tagGateway.event` holds the
 * triggering event while the snippet runs. */
KINDS.script = {
  fire: function (tag, occ) {
    var init = tag.init && function () { runInline(tag.init, occ.event); };
    if (tag.src) loadScript(tag.src, init); else if (init) init();
  }
};

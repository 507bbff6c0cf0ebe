/* The start of the gateway's /ui.js: gateway/container.py build_ui_script() puts this file, then banner.js,
 * then embeds.js, in one function `(function (d) { ... })(document)`, so the helpers below exist once
 * and the two files use them as they are (each says so at its top). Nothing here is a global.
 */
'use strict';
// Document properties through their prototypes' real getters: markup such as <img name="body"> shadows
// document.body (DOM clobbering); see runtime.js.
function real(name) {
  for (var o = Document.prototype, p; o; o = Object.getPrototypeOf(o)) if ((p = Object.getOwnPropertyDescriptor(o, name))) return p;
}
function dget(name) { return real(name).get.call(d); }
function dcall(name, a, b) { return real(name).value.call(d, a, b); }
// This script's own element: banner.js hands the container its functions on it, embeds.js wraps them there
// (no global name a page's markup could clobber). Without it (run as something else than a <script>), nothing.
var me = dget('currentScript');
if (!(me instanceof HTMLScriptElement)) return;

/* form_submit with check_validation: true (in the container only when a tag uses it). The submit
 * listener runs first (capture, on the document), so whether one of the store's handlers prevented the
 * default is known only after them: a one-shot listener on window in the bubble phase, the last to
 * run, decides, still inside the submit (before any navigation). When a handler stopped the
 * propagation that listener never runs: a timer decides instead, which a navigation may cut short
 * (README: such a store should push an event). */
TRIGGERS.form_submit.later = function (e, fire) {
  var done, on = EventTarget.prototype.addEventListener, off = EventTarget.prototype.removeEventListener;
  function decide() {
    if (done) return;
    done = 1;
    off.call(w, 'submit', last, false);
    if (!e.defaultPrevented) fire();
  }
  function last(ev) { if (ev === e) decide(); }
  on.call(w, 'submit', last, false);
  setTimeout(decide, 0);
};

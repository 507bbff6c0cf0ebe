/* form_submit: a form sent by a submit button, Enter in a field, requestSubmit() or form.submit()
 * (which sends no submit event, so it is wrapped). A form the browser's validation stopped sends no
 * submit event and fires nothing. One occurrence per form for each selector the tags use.
 * check_validation: this listener runs first (capture, on the document), so whether the store's own
 * handlers prevented the default is known only after them: a one-shot listener on window in the
 * bubble phase, the last to run, decides, still inside the submit (before any navigation). When a
 * handler stopped the propagation, that listener never runs: a timer decides instead (the submit
 * may have navigated away by then; a store that stops propagation should push an event instead). */
TRIGGERS.form_submit = {match: sigMatch, start: function () {
  var sigs = sigsOf('form_submit');
  function one(form, t) {
    if (t.selector && !Element.prototype.matches.call(form, t.selector)) return;
    occur('form_submit', 'form_submit', {element: elementInfo(form), form: {id: attr(form, 'id'), action: attr(form, 'action'),
          method: (attr(form, 'method') || 'get').toLowerCase()}}, {sig: t.sig});
  }
  function unlessPrevented(e, form, t) {
    var done;
    function decide() {
      if (done) return;
      done = 1;
      w.removeEventListener('submit', last, false);
      if (!e.defaultPrevented) one(form, t);
    }
    function last(ev) { if (ev === e) decide(); }
    w.addEventListener('submit', last, false);
    setTimeout(decide, 0);
  }
  dcall('addEventListener', 'submit', function (e) {
    var form = e.target;
    if (form instanceof HTMLFormElement) sigs.forEach(function (t) { if (t.check_validation) unlessPrevented(e, form, t); else one(form, t); });
  }, true);
  var proto = HTMLFormElement.prototype, native = proto.submit;
  proto.submit = function () { var form = this; sigs.forEach(function (t) { one(form, t); }); return native.apply(this, arguments); };
}};

/* form_submit: a form sent by a submit button, Enter in a field, requestSubmit() or form.submit()
 * (which sends no submit event, so it is wrapped). A form the browser's validation stopped sends no
 * submit event and fires nothing. One occurrence per form for each selector the tags use. With
 * check_validation, triggers/form_submit_validation.js (shipped only then) decides when to fire. */
TRIGGERS.form_submit = {match: sigMatch, start: function () {
  var sigs = sigsOf('form_submit'), later = this.later;
  function sent(form, e) {
    sigs.forEach(function (t) {
      if (t.selector && !Element.prototype.matches.call(form, t.selector)) return;
      function fire() {
        occur('form_submit', 'form_submit', {element: elementInfo(form), form: {id: attr(form, 'id'), action: attr(form, 'action'),
              method: (attr(form, 'method') || 'get').toLowerCase()}}, {sig: t.sig});
      }
      if (e && t.check_validation) later(e, fire); else fire();
    });
  }
  dcall('addEventListener', 'submit', function (e) { if (e.target instanceof HTMLFormElement) sent(e.target, e); }, true);
  var proto = HTMLFormElement.prototype, native = proto.submit;
  proto.submit = function () { sent(this); return native.apply(this, arguments); };
}};

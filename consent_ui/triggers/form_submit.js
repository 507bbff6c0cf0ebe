/* form_submit: a form sent by a submit button, Enter in a field, requestSubmit() or form.submit()
 * (which sends no submit event, so it is wrapped). A form the browser's validation stopped sends no
 * submit event and fires nothing. One occurrence per form for each selector the tags use. */
TRIGGERS.form_submit = {match: sigMatch, start: function () {
  var sigs = sigsOf('form_submit');
  function sent(form) {
    sigs.forEach(function (t) {
      if (t.selector && !Element.prototype.matches.call(form, t.selector)) return;
      occur('form_submit', 'form_submit', {element: elementInfo(form), form: {id: attr(form, 'id'), action: attr(form, 'action'),
            method: (attr(form, 'method') || 'get').toLowerCase()}}, {sig: t.sig});
    });
  }
  dcall('addEventListener', 'submit', function (e) { if (e.target instanceof HTMLFormElement) sent(e.target); }, true);
  var proto = HTMLFormElement.prototype, native = proto.submit;
  proto.submit = function () { sent(this); return native.apply(this, arguments); };
}};

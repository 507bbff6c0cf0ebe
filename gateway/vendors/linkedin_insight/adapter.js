/* linkedin_insight: the LinkedIn Insight Tag, insight.min.js driven through the standard `lintrk` queue.
 * As LinkedIn's snippet: the partner id goes into `_linkedin_partner_id` and `_linkedin_data_partner_ids`
 * BEFORE the library loads (it reads them on load and sends one page view per partner id by itself:
 * a tag without `conversion_id` does only this, `page`); lintrk('track', {conversion_id}) then sends a
 * conversion, with conversion_value and currency from a GA4 e-commerce push and the transaction id as
 * event_id (LinkedIn de-duplicates against its Conversions API on it). Partner ids are read when the
 * library loads: use one per page (or give every tag's partner id to the first tag that fires). */
KINDS.linkedin_insight = (function () {
  var partners = map(), loading = false;

  function queue(pid) {
    if (!partners[pid]) {
      partners[pid] = 1;
      if (typeof w._linkedin_partner_id !== 'string') w._linkedin_partner_id = pid;
      var ids = w._linkedin_data_partner_ids = Array.isArray(w._linkedin_data_partner_ids) ? w._linkedin_data_partner_ids : [];
      ids.push(pid);
    }
    var l = w.lintrk;
    if (typeof l !== 'function') {
      l = w.lintrk = function (a, b) { l.q.push([a, b]); };
      l.q = [];
    }
    if (!loading) { loading = true; loadScript('https://snap.licdn.com/li.lms-analytics/insight.min.js'); }
    return l;
  }

  function defaults(occ) {
    var e = ecommerceOf(occ), p = {};
    if (!e) return p;
    if (e.value != null) p.conversion_value = e.value;
    if (e.currency) p.currency = e.currency;
    return p;
  }

  return {
    fire: function (tag, occ) {
      var l = queue(tag.partner_id), order = orderId(occ);
      if (tag.page) return; // the library's own page view, once per page load
      var data = tag.params ? resolve(tag.params, occ) : defaults(occ);
      data.conversion_id = +tag.event;
      if (order) data.event_id = order;
      l('track', data);
    }
  };
})();

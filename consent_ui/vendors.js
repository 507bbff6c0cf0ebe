/* Per-vendor choices (site.vendor_choice): the vendors a visitor refused one by one inside the categories
 * they allowed. Shipped only to sites that offer them (gateway/container.py), so every other store's
 * container carries none of this.
 *
 * It runs before runtime.js, in the same scope, where runtime.js's function declarations already exist:
 * it replaces the hooks `refused` and `refuse` there (which by default refuse no vendor) and wraps
 * `choose`, whose default list is "the vendors refused now"; google.js's hook `gcmDenied` (Consent Mode)
 * too, when the container has the Google tags. A tag's vendor is `tag.v`, written only with vendor_choice. */
var vendorsOff = map(); // vendor -> 1

// mayFire's per-vendor half: the tag's vendor is refused although its category is allowed.
refused = function (tag) { return vendorsOff[tag.v] === 1; };

// A decision's vendors_refused take effect (allow()); `more`: a choice on its way adds the vendors it
// refuses at once, and the ones it lifts wait for the signed record, like categories.
refuse = function (vendors, more) {
  if (!more) vendorsOff = map();
  (vendors || []).forEach(function (v) { vendorsOff[v] = 1; });
};

// Accept all lifts every refusal; unsaid otherwise (reject all, the opt-out link), the vendors refused
// now stay so in the record.
var chooseCategories = choose;
choose = function (categories, action, vendors) {
  return chooseCategories(categories, action, action === 'accept_all' ? [] : vendors || Object.keys(vendorsOff));
};

// A Consent Mode type whose every Google vendor (CONFIG.gcm.v) is refused stays denied (google.js).
if (CONFIG.gcm) gcmDenied = function (type) {
  var behind = CONFIG.gcm.v[type];
  return !!behind && behind.every(function (v) { return vendorsOff[v] === 1; });
};

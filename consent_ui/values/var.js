/* {{ var.<name> }}: a variable declared under `variables:` (gateway/variables.py): a constant {c},
 * placeholder text {v}, or a lookup {lk} through a table {t}; its default {d} when there is no value. */
var depth = 0; // variables may use variables; the server refuses circles, this bounds anything else
ROOTS['var'] = function (path, ctx) {
  var def = own(CONFIG.vars, path[1]) ? CONFIG.vars[path[1]] : null, v;
  if (!def || depth > 20) return undefined;
  if (own(def, 'c')) return def.c;
  depth++;
  try {
    v = resolve(def.v !== undefined ? def.v : def.lk, ctx);
    if (def.t) v = v != null && own(def.t, text(v)) ? def.t[text(v)] : undefined;
  } finally { depth--; }
  return v == null || v === '' ? def.d : v;
};

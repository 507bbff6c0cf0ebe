/* Conditions on a trigger (compiled by gateway/triggers.py): `when` must all hold, `unless` must all fail.
 * A value compares as text (numbers: gt/gte/lt/lte, where a missing or non-numeric value never passes). */
function holds(c, occ) {
  var r = c.all ? c.all.every(function (x) { return holds(x, occ); }) : c.any ? c.any.some(function (x) { return holds(x, occ); })
    : compare(c, resolve(c.v, occ));
  return c.not ? !r : r;
}
function compare(c, v) {
  var s = text(v), a = c.a, n = +s;
  switch (c.op) {
    case 'eq': return s === text(a);
    case 'has': return s.indexOf(a) >= 0;
    case 'pre': return s.indexOf(a) === 0;
    case 'suf': return s.length >= a.length && s.slice(s.length - a.length) === a;
    case 're': return (c.rx || (c.rx = new RegExp(a))).test(s);
    case 'in': return a.some(function (x) { return text(x) === s; });
  }
  return s !== '' && n === n && (c.op === 'gt' ? n > a : c.op === 'ge' ? n >= a : c.op === 'lt' ? n < a : n <= a);
}
// For ?tg_debug=1: the first test that decided, with the value it saw.
function describe(c, occ) {
  return c.all || c.any ? (c.not ? 'not ' : '') + (c.all ? 'all' : 'any') + ' of a group'
    : JSON.stringify(text(resolve(c.v, occ))) + ' ' + (c.not ? 'not ' : '') + c.op + ' ' + JSON.stringify(c.a);
}
GATES.push(function (tag, occ) {
  var t = tag.trigger, i;
  for (i = 0; t.when && i < t.when.length; i++) if (!holds(t.when[i], occ)) return 'condition false: ' + describe(t.when[i], occ);
  for (i = 0; t.unless && i < t.unless.length; i++) if (holds(t.unless[i], occ)) return 'blocked by: ' + describe(t.unless[i], occ);
});

/* timer: every `interval_ms` after the container started, at most `limit` times. {{ event.count }} counts them. */
TRIGGERS.timer = {match: sigMatch, start: function () {
  var seen = map();
  CONFIG.tags.forEach(function (tag) {
    var t = tag.trigger, count = 0, id;
    if (t.type !== 'timer' || seen[t.sig]) return;
    seen[t.sig] = 1;
    id = setInterval(function () {
      occur('timer', 'timer', {count: ++count, interval_ms: t.interval_ms}, {sig: t.sig});
      if (t.limit && count >= t.limit) clearInterval(id);
    }, t.interval_ms);
  });
}};

/*
 * TEST STUB standing in for Meta's https://connect.facebook.net/en_US/fbevents.js.
 * Served by the e2e vendor recorder instead of the real library (the tests run offline).
 * It only imitates what the real library SENDS: for every track/trackCustom call an image
 * request to https://www.facebook.com/tr/ with id, ev, dl, cd[...] (arrays/objects as JSON)
 * and eid (from the 4th argument {eventID}), plus a timestamp ts that, as in the real
 * library, makes every hit a distinct URL (a repeated image URL would be served from the
 * page's image cache without a request). fbq('consent', 'revoke') stops sending,
 * fbq('consent', 'grant') resumes.
 */
(function () {
  var fbq = window.fbq;
  if (!fbq || fbq.callMethod) return;  // no base code on the page, or already loaded

  var pixelIds = [];
  var consentRevoked = false;
  var lastTimestamp = 0;

  function timestamp() {
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    return lastTimestamp;
  }

  function encodeValue(value) {
    if (value !== null && typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function send(eventName, params, options) {
    if (consentRevoked) return;
    pixelIds.forEach(function (id) {
      var query = [
        'id=' + encodeURIComponent(id),
        'ev=' + encodeURIComponent(eventName),
        'dl=' + encodeURIComponent(window.location.href),
      ];
      Object.keys(params || {}).forEach(function (key) {
        query.push('cd[' + encodeURIComponent(key) + ']=' + encodeURIComponent(encodeValue(params[key])));
      });
      if (options && options.eventID) query.push('eid=' + encodeURIComponent(options.eventID));
      query.push('ts=' + timestamp());
      new Image().src = 'https://www.facebook.com/tr/?' + query.join('&');
    });
  }

  function callMethod(command) {
    var args = Array.prototype.slice.call(arguments, 1);
    switch (command) {
      case 'init':
        if (pixelIds.indexOf(String(args[0])) === -1) pixelIds.push(String(args[0]));
        break;
      case 'set':
        break;
      case 'consent':
        consentRevoked = args[0] === 'revoke';
        break;
      case 'track':
      case 'trackCustom':
        send(args[0], args[1], args[2]);
        break;
      case 'trackSingle':
      case 'trackSingleCustom': {
        // trackSingle(pixelId, event, params, options): send for one pixel only.
        var all = pixelIds;
        pixelIds = [String(args[0])];
        try { send(args[1], args[2], args[3]); } finally { pixelIds = all; }
        break;
      }
      default:
        break;
    }
  }

  fbq.callMethod = callMethod;
  var queued = fbq.queue || [];
  fbq.queue = [];
  for (var i = 0; i < queued.length; i++) callMethod.apply(null, queued[i]);
})();

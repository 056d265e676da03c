// The banner iframe (/embed/banner) tells the widget script in its parent what happened. The
// messages carry no personal data, but whether the banner is empty says whether the visitor is
// signed in to LoginSign: they go only to the app's registered origins (#banner-parent's
// data-origins, the page's frame-ancestors), to the one that framed the page where the browser
// names it (location.ancestorOrigins), never to "*". The parent checks that they come from
// LoginSign's origin.
(function () {
  "use strict";
  var list = document.getElementById("banner-parent");
  var origins = [];
  (list ? list.getAttribute("data-origins") || "" : "").split(" ").forEach(function (o) {
    // As the browser serializes an origin (https://a.example:443 is https://a.example).
    try { if (o) origins.push(new URL(o).origin); } catch (e) { /* not an origin */ }
  });
  var anc = location.ancestorOrigins;
  // "null" when the parent hides its origin (referrerpolicy): the browser still drops
  // messages to any origin but the parent's.
  if (anc && anc.length && anc[0] !== "null") origins = origins.indexOf(anc[0]) >= 0 ? [anc[0]] : [];
  function send(type) {
    if (window.parent === window) return; // not framed: nobody to tell
    for (var i = 0; i < origins.length; i++) {
      // A message to an origin that is not the parent's is dropped by the browser.
      try { window.parent.postMessage({ type: type }, origins[i]); } catch (e) { /* not an origin */ }
    }
  }
  var go = document.getElementById("continue");
  if (!go) { send("loginsign:banner-empty"); return; }
  go.addEventListener("click", function () { send("loginsign:banner-continue"); });
  document.getElementById("dismiss").addEventListener("click", function () { send("loginsign:banner-dismiss"); });
  send("loginsign:banner-ready");
})();

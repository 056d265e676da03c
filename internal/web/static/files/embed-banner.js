// The banner iframe (/embed/banner) tells the widget script in its parent what happened. The
// messages carry no personal data; the parent checks that they come from LoginSign's origin.
(function () {
  "use strict";
  function send(type) { window.parent.postMessage({ type: type }, "*"); }
  var go = document.getElementById("continue");
  if (!go) { send("loginsign:banner-empty"); return; }
  go.addEventListener("click", function () { send("loginsign:banner-continue"); });
  document.getElementById("dismiss").addEventListener("click", function () { send("loginsign:banner-dismiss"); });
  send("loginsign:banner-ready");
})();

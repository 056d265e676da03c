// consent.js: the consent page's Allow buttons act only on a press the person meant.
//
// A site cannot frame this page (frame-ancestors 'none'), but it can put it in a window under
// the pointer and ask for a double click ("double clickjacking"): the first click opens or
// reveals the window, the second lands on Allow and links the person to an app they never
// chose. That second click comes with the pointer still and the window just shown. So an
// Allow press counts only when the page has been in front for a moment (settle, 500 ms), or
// the pointer was moving over the page just before it (a hand moving onto the button, even
// in a window not yet in front), or a key was pressed in it since it came to the front; a
// press before that is dropped and the next one counts. Deny always counts. Without script
// the buttons post as they are.
(function () {
  "use strict";
  var form = document.getElementById("consent-form");
  if (!form) return;
  // How long the page must be in front before a still pointer's press counts (ms). A data
  // attribute lets a test hold the page unsettled; nothing outside the page can set it.
  function settle() {
    return parseInt(form.getAttribute("data-settle-ms") || "500", 10);
  }

  var shownAt = performance.now();
  var keyed = false;
  function shown() {
    shownAt = performance.now();
    keyed = false;
  }
  window.addEventListener("focus", shown);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") shown();
  });
  document.addEventListener("keydown", function (e) {
    if (e.isTrusted) keyed = true;
  });

  // The pointer's moves over the page in the last second: a hand moving makes a stream of
  // them; a page shown under a still pointer gets none, or one the browser makes up.
  var trail = [];
  function recent(now) {
    while (trail.length && now - trail[0].at > 1000) trail.shift();
    return trail;
  }
  document.addEventListener("pointermove", function (e) {
    var d = Math.abs(e.movementX || 0) + Math.abs(e.movementY || 0);
    if (e.isTrusted && d > 0) recent(performance.now()).push({ at: performance.now(), d: d });
  });
  function moving(now) {
    var moves = recent(now), sum = 0;
    for (var i = 0; i < moves.length; i++) sum += moves[i].d;
    return moves.length >= 3 && sum >= 8;
  }

  function meant() {
    var now = performance.now();
    return keyed || moving(now) || now - shownAt >= settle();
  }

  form.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("button[value^=allow]") : null;
    if (button && !meant()) e.preventDefault();
  }, true);
  // Says the guard is in place (a test waits for it: a press before the script ran posts).
  form.setAttribute("data-guarded", "");
})();

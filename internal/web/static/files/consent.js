// consent.js: the consent page's Allow buttons act only on a press the person meant.
//
// A site cannot frame this page (frame-ancestors 'none'), but it can put it in a window under
// the pointer and ask for a double click ("double clickjacking"): the first click opens or
// reveals the window, the second lands on Allow and links the person to an app they never
// chose. That second click comes with the pointer still and the window just shown. So an
// Allow press counts only once the page has been in front for a moment (settle, 500 ms), or
// the pointer has moved over it, or a key was pressed in it, since it came to the front; a
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
  var moved = 0;
  var keyed = false;
  function shown() {
    shownAt = performance.now();
    moved = 0;
    keyed = false;
  }
  window.addEventListener("focus", shown);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") shown();
  });
  // A move of the pointer across the page (not a move a page change reports with the pointer
  // still, whose movement is 0).
  document.addEventListener("pointermove", function (e) {
    if (e.isTrusted) moved += Math.abs(e.movementX || 0) + Math.abs(e.movementY || 0);
  });
  document.addEventListener("keydown", function (e) {
    if (e.isTrusted) keyed = true;
  });

  function meant() {
    return keyed || moved >= 8 || performance.now() - shownAt >= settle();
  }

  form.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("button[value^=allow]") : null;
    if (button && !meant()) e.preventDefault();
  }, true);
})();

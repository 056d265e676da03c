// guard.js: the buttons that link the person to an app, or sign this browser in to an account,
// act only on a press the person meant.
//
// A site cannot frame these pages (frame-ancestors 'none'), but it can put one in a window
// under the pointer and ask for a double click ("double clickjacking"): the first click opens
// or reveals the window, the second lands on the button. On the consent page that is Allow,
// which links the person to an app they never chose; on a sign-in link's page it is "Sign in"
// of the site's own link, which signs the person's browser in to the site's account (login
// CSRF). That second click comes with the pointer still and the window just shown. So a
// guarded press counts only when the page has been in front for a moment (settle, 500 ms), or
// the pointer was moving over the page just before it (a hand moving onto the button, even in
// a window not yet in front); a press before that is dropped and the next one counts. A key
// pressed in the page does not count as meaning it: a site can ask for a game of keys as well
// as for a double click (Tab to the button, Enter), and a person using the keyboard takes
// longer than the settle to reach the button. A form is guarded when it has
// data-press-guard, whose value selects its guarded buttons (Allow, not Deny). Without script
// the buttons post as they are.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-press-guard]");
  if (!forms.length) return;
  // How long the page must be in front before a still pointer's press on form counts (ms). A
  // data attribute lets a test hold the page unsettled; nothing outside the page can set it.
  function settle(form) {
    return parseInt(form.getAttribute("data-settle-ms") || "500", 10);
  }

  var shownAt = performance.now();
  function shown() {
    shownAt = performance.now();
  }
  window.addEventListener("focus", shown);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") shown();
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

  function meant(form) {
    var now = performance.now();
    return moving(now) || now - shownAt >= settle(form);
  }

  Array.prototype.forEach.call(forms, function (form) {
    var guarded = form.getAttribute("data-press-guard");
    form.addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest(guarded) : null;
      if (button && form.contains(button) && !meant(form)) e.preventDefault();
    }, true);
    // Says the guard is in place (a test waits for it: a press before the script ran posts).
    form.setAttribute("data-guarded", "");
  });
})();

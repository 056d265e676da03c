// forget-link.js: a sign-in link's token leaves the address bar and the tab's history once its
// page is shown. The token is a secret (one sign-in, for 15 minutes), and a shared computer's
// history, a reload after the person walked away, a screenshot or a copied address kept it;
// Referrer-Policy: no-referrer already keeps it from other sites. The page's forms carry the
// token themselves (a hidden field), so they work as before; without script the address keeps
// the token and the page works the same. The entry is replaced, not added: Back does not
// bring the token back.
(function () {
  "use strict";
  if (!window.history || typeof history.replaceState !== "function" || !window.URL) return;
  var u;
  try {
    u = new URL(window.location.href);
  } catch (e) {
    return;
  }
  // The sign-in page of a link's page (/login?return_to=/dashboard/emails/verify?token=…,
  // where a signed-out visitor is sent) held the same token: the server keeps the page to
  // return to (a cookie, set when the sign-in page was served), so the address drops it.
  var back = u.searchParams.get("return_to");
  var carries = back !== null && /[?&]token=/.test(back);
  if (!u.searchParams.has("token") && !carries) return;
  u.searchParams.delete("token");
  if (carries) u.searchParams.delete("return_to");
  try {
    history.replaceState(history.state, "", u.pathname + u.search + u.hash);
  } catch (e) {
    // A browser that refuses (a sandboxed document) keeps the address as it is.
  }
})();

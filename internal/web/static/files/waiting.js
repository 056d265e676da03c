// waiting.js: the "check your email" page. Counts down to "Send a new link", and follows the
// waiting sign-in (GET /login/waiting) so the page moves on by itself when the link is used:
// approved from another device, it signs in here (POST /login/waiting); used in another tab
// or on another device instead, it says so and offers the way on.
(function () {
  "use strict";
  var box = document.getElementById("waiting");
  if (!box) return;
  var resend = document.getElementById("resend");
  var countdown = document.getElementById("resend-countdown");
  var status = document.getElementById("waiting-status");
  var left = parseInt(resend.getAttribute("data-wait") || "0", 10) || 0;

  function tick() {
    if (left > 0) {
      resend.disabled = true;
      countdown.textContent = "You can send a new link in " + left + " s.";
      left--;
      setTimeout(tick, 1000);
    } else {
      resend.disabled = false;
      countdown.textContent = "";
    }
  }
  tick();

  function say(text, link) {
    status.textContent = text;
    if (link) {
      status.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = link.href;
      a.id = link.id;
      a.textContent = link.label;
      status.appendChild(a);
    }
    status.hidden = false;
  }

  function stopForms() {
    ["code-form", "resend-form"].forEach(function (id) {
      var f = document.getElementById(id);
      if (f) f.hidden = true;
    });
  }

  var done = false;
  function handle(s) {
    switch (s.state) {
      case "approved":
        done = true;
        stopForms();
        say("Approved on your other device. Signing you in…");
        document.getElementById("finish-form").submit();
        break;
      case "signed_in":
        done = true;
        stopForms();
        say("You are signed in, in another tab of this browser.", { href: box.getAttribute("data-continue"), id: "waiting-continue", label: "Continue here" });
        break;
      case "signed_in_elsewhere":
        done = true;
        stopForms();
        say("You signed in on your other device and continue there. You can close this tab.");
        break;
      case "expired":
        done = true;
        stopForms();
        say("This sign-in has expired.", { href: "/login", id: "waiting-again", label: "Send a new link" });
        break;
    }
  }

  async function poll() {
    if (done) return;
    try {
      var r = await fetch("/login/waiting", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) handle(await r.json());
    } catch (e) { /* offline for a moment: try again */ }
    if (!done) setTimeout(poll, 1500);
  }
  setTimeout(poll, 1500);
})();

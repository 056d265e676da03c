// quickstart.js: the portal's quickstart for one application (GraphQL Application.quickstart,
// built by internal/oauth QuickstartFor): issuer, discovery URL, prefilled authorize URL, curl
// lines and the Node (openid-client), Python (Authlib) and Go (x/oauth2 + go-oidc) programs,
// each with a Copy button; and the panel shown after an application is created, which stays
// until the developer confirms they copied the client secret (shown only there).
(function () {
  "use strict";
  var h = LS.h, T = LS.t;
  // shown is what the page writes for an item's English name (which stays its data-qs and
  // data-copy, for scripts and tests); program names are not translated.
  var NAMES = { "Issuer": "quickstart.issuer", "Discovery URL": "quickstart.discovery", "Authorize URL": "quickstart.authorize",
    "Token request (curl)": "quickstart.token_curl", "App backend token (curl, client_credentials)": "quickstart.backend_curl",
    "Client secret": "quickstart.client_secret", "Webhook secret": "quickstart.webhook_secret" };
  function shown(label) { return NAMES[label] ? T(NAMES[label]) : label; }

  // FIELDS is the selection portal.js adds to an application to get its quickstart.
  var FIELDS = "quickstart { issuer discoveryUrl redirectUri authorizeUrl tokenCurl clientCredentialsCurl node python go }";

  function copyButton(label, text) {
    var b = h("button", { type: "button", class: "small", "data-copy": label, "aria-label": T("quickstart.copy_label", { what: shown(label) }) }, T("ls.copy"));
    b.addEventListener("click", async function () {
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = T("ls.copied");
      } catch (e) {
        // No clipboard permission: select the text so Ctrl+C copies it.
        var shown = b.closest(".qs-item").querySelector(".qs-value");
        var range = document.createRange();
        range.selectNodeContents(shown);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        b.textContent = T("ls.selected");
      }
      setTimeout(function () { b.textContent = T("ls.copy"); }, 2500);
    });
    return b;
  }

  // item is one labelled value with its Copy button; block values (programs, curl) keep their
  // line breaks.
  function item(label, text, block, attrs) {
    // A block scrolls sideways, so it takes keyboard focus and names itself (axe
    // scrollable-region-focusable).
    var extra = block ? { tabindex: "0", role: "region", "aria-label": shown(label) } : {};
    var value = h(block ? "pre" : "div", Object.assign({ class: "qs-value " + (block ? "qs-code" : "mono qs-line") }, extra, attrs || {}), text);
    return h("div", { class: "qs-item", "data-qs": label }, h("div", { class: "qs-head" }, h("strong", null, shown(label)), copyButton(label, text)), value);
  }

  function endpoints(q) {
    return [item("Issuer", q.issuer), item("Discovery URL", q.discoveryUrl),
      item("Authorize URL", q.authorizeUrl, false, { title: T("quickstart.authorize_title") }),
      item("Token request (curl)", q.tokenCurl, true)];
  }

  // programs shows the three programs as tabs.
  function programs(q) {
    var list = [["node", "Node (openid-client)", q.node], ["python", "Python (Authlib)", q.python], ["go", "Go (x/oauth2 + go-oidc)", q.go]];
    var tabs = h("div", { class: "tabs", role: "tablist", "aria-label": T("quickstart.programs") });
    var panes = h("div");
    list.forEach(function (p, i) {
      var id = "qs-" + p[0] + "-" + Math.random().toString(36).slice(2, 7);
      var tab = h("button", { type: "button", role: "tab", id: id + "-tab", "aria-controls": id, "aria-selected": i === 0 ? "true" : "false", "data-tab": p[0] }, p[1]);
      var pane = h("div", { role: "tabpanel", id: id, "aria-labelledby": id + "-tab", hidden: i !== 0, "data-program": p[0] }, item(p[1], p[2], true));
      tab.addEventListener("click", function () {
        [].forEach.call(tabs.children, function (t) { t.setAttribute("aria-selected", t === tab ? "true" : "false"); });
        [].forEach.call(panes.children, function (x) { x.hidden = x !== pane; });
      });
      tabs.appendChild(tab);
      panes.appendChild(pane);
    });
    return h("div", { class: "qs-programs" }, tabs, panes);
  }

  // section is the application page's quickstart card body.
  function section(q) {
    return h("div", { class: "stack", "data-quickstart": "" },
      h("p", { class: "muted" }, T("quickstart.lead_before"),
        h("code", null, q.redirectUri), T("quickstart.lead_after")),
      endpoints(q), item("App backend token (curl, client_credentials)", q.clientCredentialsCurl, true), programs(q));
  }

  // panel is shown once after createApplication (r is its answer, with application.quickstart).
  // It stays until the developer ticks that they copied the secret and presses Done; done then
  // runs.
  function panel(r, done) {
    var app = r.application, q = app.quickstart;
    var ack = h("input", { type: "checkbox", id: "qs-ack", name: "acknowledged" });
    var finish = h("button", { type: "button", class: "primary", id: "qs-done", disabled: true }, T("quickstart.done"));
    ack.addEventListener("change", function () { finish.disabled = !ack.checked; });
    var secretItem = item("Client secret", r.clientSecret, false, { "data-secret": "Client secret" });
    var el = h("section", { class: "card qs-panel", id: "created-app", role: "region", "aria-labelledby": "created-app-h", tabindex: "-1" },
      h("header", null, h("h2", { id: "created-app-h" }, T("quickstart.ready", { app: app.name }))),
      h("p", null, T("quickstart.client_id") + " ", h("code", { "data-client-id": app.id }, app.id)),
      h("div", { class: "alert warn", role: "alert" }, h("strong", null, T("quickstart.copy_now")), " " + T("quickstart.copy_now_why")),
      secretItem,
      r.webhookSecret ? item("Webhook secret", r.webhookSecret, false, { "data-secret": "Webhook secret" }) : null,
      endpoints(q), programs(q),
      h("div", { class: "field qs-ack" }, h("label", { for: "qs-ack" }, ack, " " + T("quickstart.ack"))),
      h("div", { class: "row" }, finish));
    finish.addEventListener("click", function () {
      if (!ack.checked) return;
      el.remove();
      if (done) done();
    });
    setTimeout(function () { el.focus(); }, 0);
    return el;
  }

  window.Quickstart = { FIELDS: FIELDS, section: section, panel: panel };
})();

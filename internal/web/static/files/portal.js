// portal.js: the Developer Portal, a client of /graphql only. One view per page, chosen by
// #view[data-view]; the application being managed is ?app=<id> (remembered per tab).
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql, say = LS.say;
  var view = document.getElementById("view");
  var kind = view.getAttribute("data-view");

  var APP_FIELDS = "id name website iconUrl termsUrl privacyUrl redirectUris allowedOrigins createdAt";
  // The GraphQL operations of the portal, in one place.
  var Q = {
    apps: "query PortalApps { applications(first: 100) { totalCount edges { node { " + APP_FIELDS + " } } } }",
    app: "query PortalApp($id: ID!) { application(id: $id) { " + APP_FIELDS + " webhookUrl idTokenSigningAlg postLogoutRedirectUris backchannelLogoutUri } }",
    create: "mutation CreateApplication($input: CreateApplicationInput!) { createApplication(input: $input) { application { id name } clientSecret webhookSecret } }",
    update: "mutation UpdateApplication($id: ID!, $input: UpdateApplicationInput!) { updateApplication(id: $id, input: $input) { application { " + APP_FIELDS + " } webhookSecret } }",
    deleteApp: "mutation DeleteApplication($id: ID!) { deleteApplication(id: $id) { deletedId } }",
    deleteVariant: "mutation DeleteVariant($app: ID!, $id: ID!) { deleteLicenseVariant(applicationId: $app, id: $id) }",
    rotateSecret: "mutation RotateClientSecret($id: ID!) { rotateClientSecret(id: $id) { secret } }",
    rotateWebhook: "mutation RotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
    checkRedirect: "query RedirectUriCheck($id: ID!, $uri: String!) { redirectUriCheck(appId: $id, redirectUri: $uri) { ok redirectUriRegistered https problems } }",
    users: "query PortalUsers($id: ID!, $filter: UserFilter, $first: Int, $after: Cursor) { application(id: $id) { id users(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id globalId name email active blocked isForwarding emailMuted loginCount lastSessionAt joinedAt region } } } } }",
    updateUser: "mutation UpdateAppConnection($app: ID!, $id: ID!, $input: UpdateAppConnectionInput!) { updateAppConnection(appId: $app, connectionId: $id, input: $input) { id isForwarding } }",
    deleteUser: "mutation DeleteAppConnection($app: ID!, $id: ID!) { deleteAppConnection(appId: $app, connectionId: $id) { deletedId } }",
    analytics: "query PortalAnalytics($id: ID!, $from: Time!, $to: Time!) { application(id: $id) { id analytics { signupsPerDay(from: $from, to: $to) { day count } activeUsersPerDay(from: $from, to: $to) { day count } usersPerRegion { region count } } } }",
    variants: "query Variants($id: ID!) { application(id: $id) { id licenseVariants { id name description duration codeCounts { unused active expired } } } }",
    createVariant: "mutation CreateVariant($id: ID!, $input: CreateLicenseVariantInput!) { createLicenseVariant(applicationId: $id, input: $input) { id name } }",
    generate: "mutation GenerateCodes($id: ID!, $input: GenerateLicenseCodesInput!) { generateLicenseCodes(applicationId: $id, input: $input) { codes } }",
    upload: "mutation UploadCodes($id: ID!, $input: UploadLicenseCodesInput!) { uploadLicenseCodes(applicationId: $id, input: $input) { created duplicates invalid { line code reason } } }",
    codes: "query Codes($id: ID!, $q: String, $first: Int, $after: Cursor) { application(id: $id) { id licenseCodes(q: $q, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id code state expiresAt activatedAt variant { name } owner { globalId email } } } } } }",
    deleteCode: "mutation DeleteCode($app: ID!, $id: ID!) { deleteLicenseCode(applicationId: $app, id: $id) }",
    testEmailSync: "mutation TestEmailSync($id: ID!) { testEmailSyncApi(appId: $id) { ok endpoint webhookConfigured events } }",
    testLogins: "mutation TestCurrentLogins($id: ID!) { testCurrentLoginsSyncApi(appId: $id) { ok endpoint auth total } }",
    testWebhook: "mutation TestWebhook($id: ID!) { sendTestWebhook(applicationId: $id) { id status lastStatusCode lastError } }",
    deliveries: "query Deliveries($id: ID!) { application(id: $id) { id webhookEvents(first: 50) { edges { node { id type status attempts createdAt deliveredAt nextAttemptAt lastStatusCode lastError } } } } }",
    redeliver: "mutation Redeliver($app: ID!, $id: ID!) { redeliverWebhookEvent(applicationId: $app, eventId: $id) { id status } }",
    importUsers: "mutation ImportUsers($id: ID!, $input: ImportUsersInput!) { importUsers(appId: $id, input: $input) { source { id total counts { imported alreadyConnected invalidRow } } results { row email externalUserId status message } } }",
    rollback: "mutation RollbackImport($app: ID!, $id: ID!) { rollbackImport(appId: $app, sourceId: $id) { deletedConnections withdrawnLinks } }"
  };


  function card(title, id, children) {
    var c = h("section", { class: "card", id: id, "aria-labelledby": id + "-h" }, h("header", null, h("h2", { id: id + "-h" }, title)));
    [].slice.call(arguments, 2).forEach(function (x) { if (x) c.appendChild(x); });
    return c;
  }

  function slot(id) { return h("div", { "data-slot": id }, h("p", { class: "empty" }, "Loading…")); }
  function failed(id, e) { fill(id, h("div", { class: "alert error", role: "alert" }, e.message)); }

  function field(label, input, hint) {
    var id = input.id || ("f-" + Math.random().toString(36).slice(2, 8));
    input.id = id;
    return h("div", { class: "field" }, h("label", { for: id }, label, hint ? h("div", { class: "hint" }, hint) : null), input);
  }

  // parseCSV reads "externalUserId,email,name,registrationDate,lastLoginDate" rows (header first,
  // columns in any order, quotes allowed) into ImportUserInput objects.
  function parseCSV(text) {
    var rows = [], row = [], cell = "", q = false;
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (q) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') q = false; else cell += ch;
      } else if (ch === '"') q = true;
      else if (ch === ",") { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") { if (ch === "\r" && text[i + 1] === "\n") i++; row.push(cell); rows.push(row); row = []; cell = ""; }
      else cell += ch;
    }
    if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
    rows = rows.filter(function (r) { return r.some(function (c) { return c.trim() !== ""; }); });
    if (!rows.length) throw new Error("Paste at least a header row and one user.");
    var head = rows[0].map(function (c) { return c.trim().replace(/[_\s]/g, "").toLowerCase(); });
    var col = function (name) { return head.indexOf(name.toLowerCase()); };
    if (col("email") < 0 || col("externalUserId") < 0) throw new Error("The header row needs at least externalUserId and email.");
    return rows.slice(1).map(function (r) {
      var u = { externalUserId: (r[col("externalUserId")] || "").trim(), email: (r[col("email")] || "").trim() };
      ["name", "registrationDate", "lastLoginDate"].forEach(function (k) { var c = col(k); if (c >= 0 && (r[c] || "").trim()) u[k] = r[c].trim(); });
      return u;
    });
  }

  function lines(s) { return (s || "").split(/\s*\n\s*/).map(function (x) { return x.trim(); }).filter(Boolean); }

  function secretBox(label, value) {
    return h("div", { class: "alert warn", role: "alert" }, h("strong", null, label + " — shown once, copy it now:"),
      h("div", { class: "secret", "data-secret": label }, value));
  }

  function table(cols, rows) {
    return h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, cols.map(function (c) { return h("th", { scope: "col" }, c); }))),
      h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: cols.length, class: "empty" }, "Nothing here yet.")))));
  }

  var apps = [];
  function currentAppId() {
    var q = new URLSearchParams(location.search).get("app");
    if (q) return q;
    try { var s = sessionStorage.getItem("loginsign:portal-app"); if (s) return s; } catch (e) { /* none */ }
    return apps.length ? apps[0].id : "";
  }

  async function loadApps() {
    var d = await gql(Q.apps);
    apps = LS.edges(d.applications);
    return apps;
  }

  function picker() {
    var sel = document.getElementById("app-picker");
    if (!sel) return currentAppId();
    var id = currentAppId();
    fill(sel, apps.map(function (a) { return h("option", { value: a.id, selected: a.id === id }, a.name); }));
    sel.addEventListener("change", function () {
      try { sessionStorage.setItem("loginsign:portal-app", sel.value); } catch (e) { /* not remembered */ }
      var u = new URL(location.href);
      u.searchParams.set("app", sel.value);
      location.assign(u.pathname + u.search + u.hash);
    });
    return id;
  }

  function noApps() {
    fill(view, h("div", { class: "card" }, h("p", null, "You have no applications yet."), h("a", { class: "btn primary", href: "/portal/apps" }, "Create an application")));
  }

  // ---- Applications -------------------------------------------------------------------------

  function createForm() {
    var name = h("input", { type: "text", name: "name", required: true, maxlength: 200, autocomplete: "off" });
    var website = h("input", { type: "url", name: "website", placeholder: "https://example.com" });
    var redirects = h("textarea", { name: "redirectUris", placeholder: "https://example.com/callback", rows: 2 });
    var webhook = h("input", { type: "url", name: "webhookUrl", placeholder: "https://example.com/loginsign/webhook" });
    var origins = h("textarea", { name: "allowedOrigins", placeholder: "https://example.com", rows: 2 });
    var out = h("div", { class: "result" });
    var form = h("form", { id: "create-app", novalidate: true },
      h("div", { class: "grid" }, field("Name", name), field("Website", website)),
      field("Redirect URIs", redirects, "One per line. https, or http on localhost."),
      field("Webhook URL", webhook, "Optional. Receives connection and account events."),
      field("Allowed origins", origins, "Optional. Browser origins that may call LoginSign and frame the login widgets, one per line."),
      h("button", { class: "primary", type: "submit" }, "Create application"), out);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(form, async function () {
        var input = { name: name.value.trim(), redirectUris: lines(redirects.value) };
        if (website.value.trim()) input.website = website.value.trim();
        if (webhook.value.trim()) input.webhookUrl = webhook.value.trim();
        if (lines(origins.value).length) input.allowedOrigins = lines(origins.value);
        var d = await gql(Q.create, { input: input });
        var r = d.createApplication;
        fill(out, h("div", { class: "stack" },
          h("div", { class: "alert ok" }, "Created ", h("strong", null, r.application.name), ". Client ID: ", h("code", { "data-client-id": r.application.id }, r.application.id)),
          secretBox("Client secret", r.clientSecret), r.webhookSecret ? secretBox("Webhook secret", r.webhookSecret) : null,
          h("a", { class: "btn", href: "/portal/apps/" + encodeURIComponent(r.application.id) }, "Open settings")));
        form.reset();
        await loadApps();
        renderAppList();
      });
    });
    return card("New application", "new-app", form);
  }

  function renderAppList() {
    fill("apps", apps.length ? h("ul", { class: "list" }, apps.map(function (a) {
      return h("li", { "data-app": a.id }, LS.icon(a), h("div", { class: "grow" }, h("strong", null, a.name),
        h("div", { class: "small muted mono" }, a.id), h("div", { class: "small muted" }, a.redirectUris.length + " redirect URI(s) · created " + LS.date(a.createdAt))),
        h("a", { class: "btn small", href: "/portal/apps/" + encodeURIComponent(a.id) }, "Settings"),
        h("a", { class: "btn small", href: "/portal/users?app=" + encodeURIComponent(a.id) }, "Users"));
    })) : h("p", { class: "empty" }, "No applications yet."));
  }

  async function appsView() {
    fill(view, card("Your applications", "apps-card", slot("apps")), createForm());
    try { await loadApps(); renderAppList(); } catch (e) { failed("apps", e); }
  }

  async function overviewView() {
    fill(view, h("div", { class: "grid" },
      card("Sign-ups, last 30 days", "signups", slot("signups")),
      card("Active users, last 30 days", "active", slot("active"))),
      card("Regions", "regions", slot("regions")),
      card("Your applications", "apps-card", slot("apps"), h("a", { class: "btn primary", href: "/portal/apps#new-app" }, "New application")));
    try { await loadApps(); } catch (e) { failed("apps", e); return; }
    renderAppList();
    var id = apps.length ? picker() : "";
    if (!apps.length) { var p = document.getElementById("app-picker"); if (p) p.closest(".field").hidden = true; }
    if (!id) { ["signups", "active", "regions"].forEach(function (s) { fill(s, h("p", { class: "empty" }, "Create an application to see its numbers.")); }); return; }
    try {
      var to = new Date(), from = new Date(to.getTime() - 29 * 86400000);
      from.setUTCHours(0, 0, 0, 0);
      var a = (await gql(Q.analytics, { id: id, from: from.toISOString(), to: to.toISOString() })).application.analytics;
      var series = function (xs) { return (xs || []).map(function (p) { return { label: p.day, value: p.count }; }); };
      fill("signups", Charts.line(series(a.signupsPerDay), "Sign-ups per day"));
      fill("active", Charts.line(series(a.activeUsersPerDay), "Active users per day"));
      fill("regions", (a.usersPerRegion || []).length ? Charts.bars(a.usersPerRegion.map(function (r) { return { label: r.region || "Unknown", value: r.count }; }), "Users by region") : h("p", { class: "empty" }, "No users yet."));
    } catch (e) { ["signups", "active", "regions"].forEach(function (s) { failed(s, e); }); }
  }

  async function appView() {
    var id = view.getAttribute("data-app-id");
    var app;
    try { app = (await gql(Q.app, { id: id })).application; } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!app) { fill(view, h("div", { class: "alert error" }, "No such application.")); return; }
    document.querySelector("h1").textContent = app.name;

    var inputs = {
      name: h("input", { type: "text", value: app.name, required: true }),
      website: h("input", { type: "url", value: app.website || "" }),
      iconUrl: h("input", { type: "url", value: app.iconUrl || "" }),
      termsUrl: h("input", { type: "url", value: app.termsUrl || "" }),
      privacyUrl: h("input", { type: "url", value: app.privacyUrl || "" }),
      webhookUrl: h("input", { type: "url", value: app.webhookUrl || "" }),
      idTokenSigningAlg: h("select", { name: "idTokenSigningAlg" },
        ["ES256", "RS256"].map(function (a) { return h("option", { value: a, selected: app.idTokenSigningAlg === a }, a); })),
      backchannelLogoutUri: h("input", { type: "url", value: app.backchannelLogoutUri || "" })
    };
    var logoutUris = h("textarea", { rows: 2, name: "postLogoutRedirectUris" }, (app.postLogoutRedirectUris || []).join("\n"));
    var secrets = h("div", { class: "stack" });
    var settings = h("form", { id: "settings", novalidate: true },
      h("div", { class: "grid" }, field("Name", inputs.name), field("Website", inputs.website), field("Icon URL", inputs.iconUrl),
        field("Terms URL", inputs.termsUrl), field("Privacy URL", inputs.privacyUrl), field("Webhook URL", inputs.webhookUrl),
        field("id_token signing algorithm", inputs.idTokenSigningAlg, "ES256 (default) or RS256, for clients that verify only RSA."),
        field("Back-channel logout URI", inputs.backchannelLogoutUri, "Receives a signed logout token when a person signs out."),
        field("Post-logout redirect URIs", logoutUris, "Where sign-out may return people (post_logout_redirect_uri), one per line.")),
      h("button", { class: "primary", type: "submit" }, "Save settings"));
    settings.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = {};
      Object.keys(inputs).forEach(function (k) { input[k] = inputs[k].value.trim(); });
      input.postLogoutRedirectUris = lines(logoutUris.value);
      LS.busy(settings, async function () {
        var d = (await gql(Q.update, { id: id, input: input })).updateApplication;
        if (d.webhookSecret) fill(secrets, secretBox("Webhook secret", d.webhookSecret));
      }, "Settings saved.");
    });

    var uris = app.redirectUris.slice();
    var uriList = h("ul", { class: "list", id: "redirect-list" });
    function drawUris() {
      fill(uriList, uris.map(function (u, i) {
        var health = h("span", { class: "badge", "data-health": u }, "not checked");
        return h("li", null, h("div", { class: "grow mono" }, u), health,
          h("button", { type: "button", class: "small", onclick: function (ev) { check(ev.target, u, health); } }, "Check"),
          h("button", { type: "button", class: "small", onclick: function () { uris.splice(i, 1); drawUris(); } }, "Remove"));
      }));
    }
    async function check(btn, u, badge) {
      await LS.busy(btn, async function () {
        var r = (await gql(Q.checkRedirect, { id: id, uri: u })).redirectUriCheck;
        badge.className = "badge " + (r.ok ? "ok" : "danger");
        badge.textContent = r.ok ? (r.https ? "ok" : "ok (http, local only)") : (r.problems.join("; ") || (r.redirectUriRegistered ? "problem" : "not saved yet"));
      });
    }
    var newUri = h("input", { type: "url", placeholder: "https://example.com/callback" });
    var origins = h("textarea", { rows: 3 }, app.allowedOrigins.join("\n"));
    var uriForm = h("form", { id: "redirects", novalidate: true }, uriList,
      h("div", { class: "row" }, h("label", { class: "visually-hidden", for: "new-uri" }, "Add a redirect URI"), newUri,
        h("button", { type: "button", onclick: function () { if (newUri.value.trim()) { uris.push(newUri.value.trim()); newUri.value = ""; drawUris(); } } }, "Add")),
      hr(), field("Allowed origins", origins, "Browser origins allowed to call LoginSign and to frame the login widget, one per line."),
      h("button", { class: "primary", type: "submit" }, "Save redirect URIs and origins"));
    newUri.id = "new-uri";
    uriForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(uriForm, function () { return gql(Q.update, { id: id, input: { redirectUris: uris, allowedOrigins: lines(origins.value) } }); }, "Redirect URIs saved.");
    });
    drawUris();

    var rot = h("div", { class: "row" },
      LS.confirmButton("Rotate client secret", "Confirm: the old secret stops working", "", async function () {
        var d = await gql(Q.rotateSecret, { id: id });
        fill(secrets, secretBox("Client secret", d.rotateClientSecret.secret));
      }),
      LS.confirmButton("Rotate webhook secret", "Confirm rotation", "", async function () {
        var d = await gql(Q.rotateWebhook, { id: id });
        fill(secrets, secretBox("Webhook secret", d.rotateWebhookSecret.secret));
      }));

    fill(view,
      card("Credentials", "credentials", h("p", null, "Client ID ", h("code", null, app.id)), rot, secrets),
      card("Settings", "settings-card", settings),
      card("Redirect URIs", "redirect-uris", uriForm),
      card("Activity", "app-activity", slot("app-activity")),
      card("Delete this application", "delete-app", h("p", { class: "muted" }, "Every connection ends and its users' private addresses for this app stop working. This cannot be undone."),
        LS.confirmButton("Delete application", "Confirm: delete " + app.name, "danger", async function () {
          await gql(Q.deleteApp, { id: id });
          location.assign("/portal/apps");
        })));
    loadAppActivity(id);
  }

  // The application's activity log (developer actions and its users' sign-ins and consents).
  var ACTIVITY_Q = "query AppActivity($id: ID!) { application(id: $id) { id activity(first: 50) { events { id type actor connectionId details { key value } at } } } }";
  async function loadAppActivity(id) {
    var d;
    try { d = (await gql(ACTIVITY_Q, { id: id })).application.activity; } catch (e) { failed("app-activity", e); return; }
    if (!d.events.length) { fill("app-activity", h("p", { class: "empty" }, "Nothing yet.")); return; }
    fill("app-activity", table(["When", "What", "By", "Details"], d.events.map(function (ev) {
      return h("tr", { "data-event": ev.id }, [LS.dateTime(ev.at), ev.type.toLowerCase().replace(/_/g, " "), ev.actor.toLowerCase(),
        ev.details.map(function (kv) { return kv.key + ": " + kv.value; }).join(" · ") + (ev.connectionId ? " · " + ev.connectionId : "")
      ].map(function (c) { return h("td", null, c); }));
    })));
  }

  function hr() { return h("hr"); }

  // ---- Users ----------------------------------------------------------------------------------

  async function usersView() {
    try { await loadApps(); } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!apps.length) { noApps(); return; }
    var id = picker();
    var search = h("input", { type: "search", id: "user-search", placeholder: "Global ID, name or address" });
    var pager = h("div", { class: "pager" });
    var cursors = [null];
    var pageNo = 0;
    var form = h("form", { class: "row", role: "search" }, h("label", { class: "visually-hidden", for: "user-search" }, "Search users"), search, h("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", function (ev) { ev.preventDefault(); cursors = [null]; pageNo = 0; load(); });
    fill(view, card("Connected users", "users", form, h("div", { class: "small muted", "data-slot": "user-count" }), slot("users-table"), pager),
      h("p", { class: "muted" }, "Bring users you already have: ", h("a", { href: "/portal/synchronisation?app=" + encodeURIComponent(id) + "#import-existing-users" }, "import existing users"), ". ",
        h("a", { class: "btn small", id: "export-users", href: "/api/developer/applications/" + encodeURIComponent(id) + "/users/export", download: "" }, "Export users as CSV")));

    async function load() {
      var d;
      try { d = (await gql(Q.users, { id: id, filter: search.value.trim() ? { search: search.value.trim() } : null, first: 25, after: cursors[pageNo] })).application.users; }
      catch (e) { failed("users-table", e); return; }
      fill("user-count", d.totalCount + " user(s)");
      fill("users-table", table(["Global ID", "Name", "Email", "Status", "Sign-ins", "Last sign-in", "Region", ""], LS.edges(d).map(function (u) {
        return h("tr", { "data-user": u.globalId }, h("td", null, h("code", null, u.globalId)), h("td", null, u.name || "—"), h("td", null, u.email || "—"),
          h("td", null, u.blocked ? h("span", { class: "badge danger" }, "blocked") : u.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge" }, "inactive"),
            u.emailMuted ? h("span", { class: "badge warn" }, "muted") : null),
          h("td", null, String(u.loginCount)), h("td", null, LS.dateTime(u.lastSessionAt)), h("td", null, u.region || "—"),
          h("td", null, h("div", { class: "row" },
            h("button", { type: "button", class: "small", onclick: function (ev) { LS.busy(ev.target, async function () { await gql(Q.updateUser, { app: id, id: u.id, input: { isForwarding: !u.isForwarding } }); load(); }, u.isForwarding ? "Mail to this user's relay address is no longer forwarded." : "Mail is forwarded again."); } }, u.isForwarding ? "Stop forwarding" : "Forward mail"),
            LS.confirmButton("Delete", "Confirm delete", "small", async function () { await gql(Q.deleteUser, { app: id, id: u.id }); say("Connection deleted; the user_account_deleted webhook is on its way.", "ok"); load(); }))));
      })));
      fill(pager,
        h("button", { type: "button", class: "small", disabled: pageNo === 0, onclick: function () { pageNo--; load(); } }, "Previous"),
        h("span", { class: "small muted" }, "Page " + (pageNo + 1)),
        h("button", { type: "button", class: "small", disabled: !d.pageInfo.hasNextPage, onclick: function () { cursors[pageNo + 1] = d.pageInfo.endCursor; pageNo++; load(); } }, "Next"));
    }
    load();
  }

  // ---- Licenses -------------------------------------------------------------------------------

  async function licensesView() {
    try { await loadApps(); } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!apps.length) { noApps(); return; }
    var id = picker();
    var variants = [];

    var vName = h("input", { type: "text", required: true, id: "variant-name" });
    var vDesc = h("input", { type: "text", id: "variant-description" });
    var vDur = h("select", { id: "variant-duration" }, [["LIFETIME", "Lifetime"], ["MONTH", "One month"], ["YEAR", "One year"]].map(function (d) { return h("option", { value: d[0] }, d[1]); }));
    var vForm = h("form", { id: "variant-form", novalidate: true }, h("h3", null, "New variant"), h("div", { class: "grid" }, field("Name", vName), field("Description", vDesc), field("Duration", vDur)),
      h("button", { type: "submit" }, "Add variant"));
    vForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(vForm, async function () { await gql(Q.createVariant, { id: id, input: { name: vName.value.trim(), description: vDesc.value.trim() || null, duration: vDur.value } }); vForm.reset(); await loadVariants(); }, "Variant added.");
    });

    var gVariant = h("select", { id: "generate-variant" });
    var gCount = h("input", { type: "number", min: 1, max: 10000, value: 10, id: "generate-count" });
    var gOut = h("div", { class: "result" });
    var gForm = h("form", { id: "generate-form", novalidate: true }, h("div", { class: "grid" }, field("Variant", gVariant), field("How many", gCount)),
      h("button", { class: "primary", type: "submit" }, "Generate codes"), gOut);
    gForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(gForm, async function () {
        var d = (await gql(Q.generate, { id: id, input: { variantId: gVariant.value, count: parseInt(gCount.value, 10) } })).generateLicenseCodes;
        fill(gOut, h("div", { class: "alert ok" }, d.codes.length + " code(s) generated."), h("textarea", { readonly: true, id: "generated-codes", rows: 4 }, (d.codes || []).join("\n")));
        loadCodes();
      });
    });

    var uVariant = h("select", { id: "upload-variant" });
    var uCodes = h("textarea", { id: "upload-codes", rows: 4, placeholder: "One code per line" });
    var uOut = h("div", { class: "result" });
    var uForm = h("form", { id: "upload-form", novalidate: true }, field("Variant", uVariant), field("Codes", uCodes), h("button", { type: "submit" }, "Upload codes"), uOut);
    uForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(uForm, async function () {
        var d = (await gql(Q.upload, { id: id, input: { variantId: uVariant.value, codes: lines(uCodes.value) } })).uploadLicenseCodes;
        fill(uOut, h("div", { class: "alert " + (d.invalid.length ? "warn" : "ok") }, d.created + " added, " + d.duplicates.length + " duplicate(s), " + d.invalid.length + " invalid."),
          d.invalid.length ? h("ul", null, d.invalid.map(function (r) { return h("li", null, "Line " + r.line + " (" + r.code + "): " + r.reason); })) : null);
        loadCodes();
      });
    });

    var cSearch = h("input", { type: "search", id: "code-search", placeholder: "Code, Global ID or address" });
    var cForm = h("form", { class: "row", role: "search" }, h("label", { class: "visually-hidden", for: "code-search" }, "Search codes"), cSearch, h("button", { type: "submit" }, "Search"));
    var cPager = h("div", { class: "pager" });
    var cursors = [null], pageNo = 0;
    cForm.addEventListener("submit", function (ev) { ev.preventDefault(); cursors = [null]; pageNo = 0; loadCodes(); });

    fill(view, card("Variants", "variants", slot("variants"), vForm),
      h("div", { class: "grid" }, card("Generate", "generate", gForm), card("Upload", "upload", uForm)),
      card("Codes", "codes", cForm, h("div", { class: "small muted", "data-slot": "code-count" }), slot("codes-table"), cPager));

    async function loadVariants() {
      try { variants = (await gql(Q.variants, { id: id })).application.licenseVariants || []; } catch (e) { failed("variants", e); return; }
      fill("variants", variants.length ? h("ul", { class: "list" }, variants.map(function (v) {
        var c = v.codeCounts || { unused: 0, active: 0, expired: 0 };
        return h("li", { "data-variant": v.name }, h("div", { class: "grow" }, h("strong", null, v.name), " ", h("span", { class: "badge" }, String(v.duration).toLowerCase()), v.description ? h("div", { class: "small muted" }, v.description) : null),
          h("span", { class: "small muted" }, c.unused + " unused · " + c.active + " active · " + c.expired + " expired"),
          LS.confirmButton("Delete", "Confirm delete", "small", async function () { await gql(Q.deleteVariant, { app: id, id: v.id }); say(v.name + " was deleted.", "ok"); await loadVariants(); loadCodes(); }));
      })) : h("p", { class: "empty" }, "No variants yet. Add one to generate codes."));
      [gVariant, uVariant].forEach(function (s) { fill(s, variants.map(function (v) { return h("option", { value: v.id }, v.name); })); });
    }
    async function loadCodes() {
      var d;
      try { d = (await gql(Q.codes, { id: id, q: cSearch.value.trim() || null, first: 50, after: cursors[pageNo] })).application.licenseCodes; } catch (e) { failed("codes-table", e); return; }
      fill("code-count", d.totalCount + " code(s)");
      fill("codes-table", table(["Code", "Variant", "State", "Owner", "Activated", "Expires", ""], LS.edges(d).map(function (c) {
        return h("tr", { "data-code": c.code }, h("td", null, h("code", null, c.code)), h("td", null, c.variant ? c.variant.name : "—"),
          h("td", null, h("span", { class: "badge " + (c.state === "ACTIVE" ? "ok" : "") }, String(c.state).toLowerCase())),
          h("td", null, c.owner ? [h("code", null, c.owner.globalId), " ", c.owner.email || ""] : "—"),
          h("td", null, LS.date(c.activatedAt)), h("td", null, c.expiresAt ? LS.date(c.expiresAt) : "—"),
          h("td", null, c.owner ? null : LS.confirmButton("Delete", "Confirm", "small", async function () { await gql(Q.deleteCode, { app: id, id: c.id }); loadCodes(); })));
      })));
      fill(cPager,
        h("button", { type: "button", class: "small", disabled: pageNo === 0, onclick: function () { pageNo--; loadCodes(); } }, "Previous"),
        h("span", { class: "small muted" }, "Page " + (pageNo + 1)),
        h("button", { type: "button", class: "small", disabled: !d.pageInfo.hasNextPage, onclick: function () { cursors[pageNo + 1] = d.pageInfo.endCursor; pageNo++; loadCodes(); } }, "Next"));
    }
    loadVariants();
    loadCodes();
  }

  // ---- Synchronisation ------------------------------------------------------------------------

  async function syncView() {
    try { await loadApps(); } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!apps.length) { noApps(); return; }
    var id = picker();
    var results = h("div", { class: "stack", id: "sync-results" });
    function describe(r) {
      if (r.endpoint !== undefined && r.total !== undefined) return (r.ok ? "ok" : "failed") + " · " + r.endpoint + " · " + r.auth + " · " + r.total + " current login(s)";
      if (r.endpoint !== undefined) return (r.ok ? "ok" : "failed") + " · " + r.endpoint + (r.webhookConfigured ? " · webhook events: " + r.events.join(", ") : " · no webhook URL set");
      return r.status + (r.lastStatusCode ? " · HTTP " + r.lastStatusCode : "") + (r.lastError ? " · " + r.lastError : "");
    }
    function test(label, q, key) {
      return h("button", { type: "button", onclick: function (ev) {
        LS.busy(ev.target, async function () {
          var r = (await gql(q, { id: id }))[key];
          results.prepend(h("div", { class: "alert " + (r.ok === false || r.status === "failed" ? "error" : "ok") }, label + ": " + describe(r)));
        });
      } }, label);
    }

    var csv = h("textarea", { id: "import-csv", rows: 5, placeholder: "externalUserId,email,name\n42,ann@example.com,Ann" });
    var impName = h("input", { type: "text", id: "import-name", placeholder: "Users from our old login" });
    var impOut = h("div", { id: "import-results", class: "result" });
    var imp = h("form", { id: "import-form", novalidate: true }, field("Name of this import", impName), field("CSV rows", csv, "Header row first: externalUserId and email, optionally name, registrationDate and lastLoginDate."),
      h("button", { class: "primary", type: "submit" }, "Import"), impOut);
    imp.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(imp, async function () {
        var users = parseCSV(csv.value);
        var d = (await gql(Q.importUsers, { id: id, input: { sourceName: impName.value.trim() || null, users: users } })).importUsers;
        var c = d.source.counts;
        fill(impOut, h("p", null, d.source.total + " row(s): " + c.imported + " proposed, " + c.alreadyConnected + " already connected, " + c.invalidRow + " invalid."),
          h("p", { class: "muted small" }, "Each proposed row waits for the person: it becomes a connection when they next sign in to your app and allow it. LoginSign does not tell you which addresses have an account."),
          table(["Row", "External ID", "Email", "Result", "Message"], d.results.map(function (r) {
            return h("tr", null, h("td", null, String(r.row)), h("td", null, r.externalUserId || "—"), h("td", null, r.email || "—"),
              h("td", null, h("span", { class: "badge " + (r.status === "imported" ? "ok" : r.status === "already_connected" ? "" : "warn") }, r.status === "imported" ? "proposed" : String(r.status).replace("_", " "))),
              h("td", null, r.message || ""));
          })),
          LS.confirmButton("Roll back this import", "Confirm roll back", "", async function () {
            var rb = (await gql(Q.rollback, { app: id, id: d.source.id })).rollbackImport;
            say("Import rolled back: " + rb.withdrawnLinks + " proposal(s) withdrawn, " + rb.deletedConnections + " connection(s) removed.", "ok");
          }));
      });
    });

    fill(view,
      card("Test your endpoints", "sync-tests", h("p", { class: "muted" }, "Each test calls your backend now and shows what came back."),
        h("div", { class: "row" }, test("Email sync", Q.testEmailSync, "testEmailSyncApi"), test("Current logins", Q.testLogins, "testCurrentLoginsSyncApi"), test("Send a test webhook", Q.testWebhook, "sendTestWebhook")), results),
      card("Webhook deliveries", "deliveries", slot("deliveries")),
      card("Import existing users", "import-existing-users", imp));
    loadDeliveries();

    async function loadDeliveries() {
      var d;
      try { d = (await gql(Q.deliveries, { id: id })).application.webhookEvents; } catch (e) { failed("deliveries", e); return; }
      fill("deliveries", table(["Event", "Status", "Attempts", "Last answer", "Created", ""], LS.edges(d).map(function (ev) {
        return h("tr", { "data-event": ev.type }, h("td", null, h("code", null, ev.type)),
          h("td", null, h("span", { class: "badge " + (ev.status === "delivered" ? "ok" : ev.status === "pending" ? "warn" : "danger") }, ev.status)),
          h("td", null, String(ev.attempts)), h("td", null, ev.lastStatusCode ? "HTTP " + ev.lastStatusCode : ev.lastError || "—"),
          h("td", null, LS.dateTime(ev.createdAt)),
          h("td", null, h("button", { type: "button", class: "small", onclick: function (e2) { LS.busy(e2.target, async function () { await gql(Q.redeliver, { app: id, id: ev.id }); loadDeliveries(); }, "Queued for redelivery."); } }, "Redeliver")));
      })));
    }
  }

  var VIEWS = { overview: overviewView, apps: appsView, app: appView, users: usersView, licenses: licensesView, synchronisation: syncView };
  (VIEWS[kind] || overviewView)();
})();

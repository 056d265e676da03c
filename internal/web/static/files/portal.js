// portal.js: the Developer Portal, a client of /graphql only. One view per page, chosen by
// #view[data-view]; the application being managed is ?app=<id> (remembered per tab).
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql, say = LS.say;
  var view = document.getElementById("view");
  var kind = view.getAttribute("data-view");

  var APP_FIELDS = "id name website iconUrl termsUrl privacyUrl redirectUris allowedOrigins createdAt viewerRole";
  var QUICKSTART = "quickstart { issuer discoveryUrl redirectUri authorizeUrl tokenCurl clientCredentialsCurl node python go }";
  // The GraphQL operations of the portal, in one place.
  var Q = {
    apps: "query PortalApps { applications(first: 100) { totalCount edges { node { " + APP_FIELDS + " } } } }",
    app: "query PortalApp($id: ID!) { application(id: $id) { " + APP_FIELDS + " webhookUrl idTokenSigningAlg postLogoutRedirectUris backchannelLogoutUri } }",
    create: "mutation CreateApplication($input: CreateApplicationInput!) { createApplication(input: $input) { application { id name " + QUICKSTART + " } clientSecret webhookSecret } }",
    quickstart: "query AppQuickstart($id: ID!) { application(id: $id) { id " + QUICKSTART + " } }",
    update: "mutation EditApplication($id: ID!, $input: UpdateApplicationInput!) { updateApplication: editApplication(input: { applicationId: $id, changes: $input }) { application { " + APP_FIELDS + " } webhookSecret } }",
    deleteApp: "mutation RemoveApplication($id: ID!) { removeApplication(input: { applicationId: $id }) { deletedApplicationId } }",
    deleteVariant: "mutation RemoveLicenseVariant($app: ID!, $id: ID!, $force: Boolean!) { removeLicenseVariant(input: { applicationId: $app, variantId: $id, force: $force }) { deletedVariantId } }",
    rotateSecret: "mutation ResetClientSecret($id: ID!) { rotateClientSecret: resetClientSecret(input: { applicationId: $id }) { secret: clientSecret } }",
    rotateWebhook: "mutation ResetWebhookSecret($id: ID!) { rotateWebhookSecret: resetWebhookSecret(input: { applicationId: $id }) { secret: webhookSecret } }",
    checkRedirect: "query RedirectUriCheck($id: ID!, $uri: String!) { redirectUriCheck(appId: $id, redirectUri: $uri) { ok redirectUriRegistered https problems } }",
    users: "query PortalUsers($id: ID!, $filter: UserFilter, $first: Int, $after: Cursor) { application(id: $id) { id users(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id globalId name email active blocked isForwarding emailMuted loginCount lastSessionAt joinedAt region developerEmail } } } } }",
    updateUser: "mutation EditAppConnection($app: ID!, $id: ID!, $isForwarding: Boolean) { editAppConnection(input: { applicationId: $app, connectionId: $id, isForwarding: $isForwarding }) { connection { id isForwarding } } }",
    deleteUser: "mutation CloseAppConnection($app: ID!, $id: ID!) { closeAppConnection(input: { applicationId: $app, connectionId: $id }) { deletedConnectionId } }",
    analytics: "query PortalAnalytics($id: ID!, $from: Time!, $to: Time!) { application(id: $id) { id users(first: 1) { totalCount } analytics { signupsPerDay(from: $from, to: $to) { day count } activeUsersPerDay(from: $from, to: $to) { day count } usersPerRegion { region count } sessionsDistribution { label min max count } licensesByState { state count } } } }",
    variants: "query Variants($id: ID!) { application(id: $id) { id licenseVariants { id name description duration codeCounts { unused active expired } } } }",
    createVariant: "mutation AddLicenseVariant($id: ID!, $name: String!, $description: String, $duration: LicenseVariantDuration) { addLicenseVariant(input: { applicationId: $id, name: $name, description: $description, duration: $duration }) { variant { id name } } }",
    generate: "mutation CreateLicenseCodes($id: ID!, $variantId: ID!, $count: Int!) { generateLicenseCodes: createLicenseCodes(input: { applicationId: $id, variantId: $variantId, count: $count }) { codes } }",
    upload: "mutation ImportLicenseCodes($id: ID!, $variantId: ID!, $codes: [String!]!) { uploadLicenseCodes: importLicenseCodes(input: { applicationId: $id, variantId: $variantId, codes: $codes }) { created duplicates invalid { line code reason } } }",
    codes: "query Codes($id: ID!, $q: String, $first: Int, $after: Cursor) { application(id: $id) { id licenseCodes(q: $q, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id code state expiresAt activatedAt variant { name } owner { globalId email } } } } } }",
    deleteCode: "mutation RemoveLicenseCode($app: ID!, $id: ID!) { removeLicenseCode(input: { applicationId: $app, codeId: $id }) { deletedCodeId } }",
    testEmailSync: "mutation CheckEmailSyncApi($id: ID!) { testEmailSyncApi: checkEmailSyncApi(input: { applicationId: $id }) { result { ok endpoint webhookConfigured events } } }",
    testLogins: "mutation CheckCurrentLoginsSyncApi($id: ID!) { testCurrentLoginsSyncApi: checkCurrentLoginsSyncApi(input: { applicationId: $id }) { result { ok endpoint auth total } } }",
    testWebhook: "mutation PingWebhook($id: ID!) { sendTestWebhook: pingWebhook(input: { applicationId: $id }) { result: event { id status lastStatusCode lastError } } }",
    deliveries: "query Deliveries($id: ID!) { application(id: $id) { id webhookEvents(first: 50) { edges { node { id type status attempts createdAt deliveredAt nextAttemptAt lastStatusCode lastError } } } } }",
    redeliver: "mutation RetryWebhookEvent($app: ID!, $id: ID!) { retryWebhookEvent(input: { applicationId: $app, eventId: $id }) { event { id status } } }",
    importUsers: "mutation ImportAppUsers($id: ID!, $sourceName: String, $users: [ImportUserInput!]!) { importUsers: importAppUsers(input: { applicationId: $id, sourceName: $sourceName, users: $users }) { source { id total counts { imported alreadyConnected invalidRow } } results { row email externalUserId status message } } }",
    rollback: "mutation UndoImport($app: ID!, $id: ID!) { rollbackImport: undoImport(input: { applicationId: $app, sourceId: $id }) { deletedConnections withdrawnLinks } }",
    imports: "query Imports($id: ID!) { application(id: $id) { id importSources(first: 20) { totalCount edges { node { id name kind total createdAt rolledBackAt counts { imported alreadyConnected invalidRow } } } } } }",
    updateVariant: "mutation EditLicenseVariant($app: ID!, $id: ID!, $name: String, $description: String, $duration: LicenseVariantDuration) { editLicenseVariant(input: { applicationId: $app, variantId: $id, name: $name, description: $description, duration: $duration }) { variant { id name description duration } } }",
    updateDevEmail: "mutation EditAppEmail($app: ID!, $id: ID!, $appEmail: String!) { editAppConnection(input: { applicationId: $app, connectionId: $id, appEmail: $appEmail }) { connection { id developerEmail } } }",
    appRole: "query PortalAppRole($id: ID!) { application(id: $id) { id viewerRole } }",
    appLimited: "query PortalAppLimited($id: ID!) { application(id: $id) { " + APP_FIELDS + " idTokenSigningAlg postLogoutRedirectUris backchannelLogoutUri } }",
    team: "query Team($id: ID!) { application(id: $id) { id viewerRole members { userId name email role joinedAt isViewer } ownershipTransfer { toUserId toEmail expiresAt } } }",
    invitations: "query TeamInvitations($id: ID!) { application(id: $id) { id invitations { id email role createdAt expiresAt } } }",
    invite: "mutation InviteMember($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id email role expiresAt } } }",
    revokeInvitation: "mutation RevokeInvitation($input: RevokeInvitationInput!) { revokeInvitation(input: $input) { revokedInvitationId } }",
    changeRole: "mutation ChangeMemberRole($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { member { userId role } } }",
    removeMember: "mutation RemoveMember($input: RemoveMemberInput!) { removeMember(input: $input) { removedUserId } }",
    leave: "mutation LeaveApplication($input: LeaveApplicationInput!) { leaveApplication(input: $input) { applicationId } }",
    proposeTransfer: "mutation ProposeOwnershipTransfer($input: ProposeOwnershipTransferInput!) { proposeOwnershipTransfer(input: $input) { transfer { toUserId toEmail expiresAt } } }",
    acceptTransfer: "mutation AcceptOwnershipTransfer($input: AcceptOwnershipTransferInput!) { acceptOwnershipTransfer(input: $input) { application { id viewerRole } } }",
    cancelTransfer: "mutation CancelOwnershipTransfer($input: CancelOwnershipTransferInput!) { cancelOwnershipTransfer(input: $input) { applicationId } }",
    acceptInvitation: "mutation AcceptInvitation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { application { id name } role } }",
    myInvitations: "query MyTeamInvitations { viewer { id teamInvitations { id applicationId applicationName role expiresAt } } }",
    syncEmail: "mutation ProposeConnectionEmail($app: ID!, $id: ID!, $email: String!) { proposeConnectionEmail(input: { applicationId: $app, connectionId: $id, email: $email }) { ok changed pending } }"
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

  // secretBox shows a secret once, with a Copy button, right where it was asked for.
  function secretBox(label, value) {
    var v = h("code", { class: "secret", "data-secret": label }, value);
    return h("div", { class: "alert warn secret-box", role: "status", tabindex: "-1" }, h("strong", null, label + " — shown once, copy it now:"),
      h("div", { class: "row" }, v, LS.copyButton(v)));
  }
  function showSecret(box, label, value) {
    var b = secretBox(label, value);
    fill(box, b);
    b.focus({ preventScroll: true });
    b.scrollIntoView({ block: "nearest" });
  }

  // table draws rows under cols; on a phone each row becomes a card whose cells name their
  // column (data-label), action cells included. A column named "" holds the row's actions.
  function table(cols, rows, empty) {
    cols = cols.map(function (c) { return c === "" ? "Actions" : c; });
    var body = h("tbody", null, rows.length ? rows : h("tr", { class: "empty-row" }, h("td", { colspan: cols.length, class: "empty" }, empty || "Nothing here yet.")));
    if (rows.length) [].forEach.call(body.rows, function (tr) {
      [].forEach.call(tr.cells, function (td, i) { if (cols[i]) td.setAttribute("data-label", cols[i]); if (cols[i] === "Actions") td.classList.add("actions-cell"); });
    });
    return h("div", { class: "table-wrap" }, h("table", { class: "cards" },
      h("thead", null, h("tr", null, cols.map(function (c) { return h("th", { scope: "col" }, c); }))), body));
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
        // The post-create panel (quickstart.js) stays until the secret is acknowledged.
        fill(out, Quickstart.panel(r, function () {
          fill(out, h("div", { class: "alert ok" }, "Created ", h("strong", null, r.application.name), ". ",
            h("a", { href: "/portal/apps/" + encodeURIComponent(r.application.id) }, "Open settings")));
        }));
        form.reset();
        await loadApps();
        renderAppList();
      }, null, { field: function (e) {
        // Server messages start with the setting they are about ("website: must be …").
        if (/^name /.test(e.message)) return name;
        if (/^website:/.test(e.message)) return website;
        if (/^redirect URI|redirect URIs/.test(e.message)) return redirects;
        if (/^webhookUrl:|webhook/i.test(e.message)) return webhook;
        if (/^allowed origin/.test(e.message)) return origins;
        return null;
      } });
    });
    return card("New application", "new-app", form);
  }

  function renderAppList() {
    fill("apps", apps.length ? h("ul", { class: "list" }, apps.map(function (a) {
      return h("li", { "data-app": a.id }, LS.icon(a), h("div", { class: "grow" }, h("strong", null, a.name),
        h("div", { class: "small muted mono" }, a.id), h("div", { class: "small muted" }, LS.plural(a.redirectUris.length, "redirect URI") + " · created " + LS.date(a.createdAt))),
        h("a", { class: "btn small", href: "/portal/apps/" + encodeURIComponent(a.id) }, "Settings"),
        h("a", { class: "btn small", href: "/portal/users?app=" + encodeURIComponent(a.id) }, "Users"));
    })) : h("p", { class: "empty" }, "No applications yet."));
  }

  async function appsView() {
    fill(view, card("Your applications", "apps-card", slot("apps")), createForm());
    try { await loadApps(); renderAppList(); } catch (e) { failed("apps", e); }
  }

  // fillDays lists every day of [from, to] with its count (0 for days the server left out).
  function fillDays(xs, from, days) {
    var by = {};
    (xs || []).forEach(function (p) { by[p.day] = p.count; });
    var out = [];
    for (var i = 0; i < days; i++) {
      var d = new Date(from.getTime() + i * 86400000).toISOString().slice(0, 10);
      out.push({ label: d, value: by[d] || 0 });
    }
    return out;
  }

  async function overviewView() {
    fill(view, h("div", { "data-slot": "analytics" }, h("p", { class: "empty" }, "Loading…")),
      card("Your applications", "apps-card", slot("apps"), h("a", { class: "btn primary", href: "/portal/apps#new-app" }, "New application")));
    try { await loadApps(); } catch (e) { failed("apps", e); return; }
    renderAppList();
    var id = apps.length ? picker() : "";
    if (!apps.length) { var p = document.getElementById("app-picker"); if (p) p.closest(".field").hidden = true; }
    if (!id) {
      fill("analytics", h("div", { class: "card", id: "analytics-empty" }, h("h2", null, "Numbers appear here"),
        h("p", null, "Create an application, add the Login Button to your site, and this page shows sign-ups, active users, regions and licenses."),
        h("a", { class: "btn primary", href: "/portal/apps#new-app" }, "Create an application")));
      return;
    }
    var a, users;
    var days = 30, to = new Date(), from = new Date(to.getTime() - (days - 1) * 86400000);
    from.setUTCHours(0, 0, 0, 0);
    try {
      var app = (await gql(Q.analytics, { id: id, from: from.toISOString(), to: to.toISOString() })).application;
      a = app.analytics;
      users = app.users.totalCount;
    } catch (e) { failed("analytics", e); return; }
    var signups = fillDays(a.signupsPerDay, from, days), active = fillDays(a.activeUsersPerDay, from, days);
    var sum = function (xs) { return xs.reduce(function (t, p) { return t + p.value; }, 0); };
    var lic = {};
    (a.licensesByState || []).forEach(function (x) { lic[x.state] = x.count; });
    var licTotal = (lic.UNUSED || 0) + (lic.ACTIVE || 0) + (lic.EXPIRED || 0);
    var name = (apps.find(function (x) { return x.id === id; }) || {}).name || "this application";

    var stats = h("div", { class: "stats", id: "headline" },
      Charts.headline(users, "connected " + (users === 1 ? "user" : "users")),
      Charts.headline(sum(signups), "sign-ups, last 30 days"),
      Charts.headline(sum(active), "active, last 30 days"),
      Charts.headline(lic.ACTIVE || 0, "active licenses", licTotal ? LS.num(lic.UNUSED || 0) + " unused" : null));

    if (!users) {
      // One helpful card instead of empty charts.
      fill("analytics", stats, h("div", { class: "card", id: "analytics-empty" }, h("h2", null, "No one has signed in to " + name + " yet"),
        h("p", null, "Charts of sign-ups, active users, regions and sign-in counts appear here as soon as the first person signs in."),
        h("ol", { class: "steps" },
          h("li", null, "Check the redirect URIs in ", h("a", { href: "/portal/apps/" + encodeURIComponent(id) + "#redirect-uris" }, "the app's settings"), "."),
          h("li", null, "Add the Login Button to your site (see ", h("a", { href: "/docs" }, "the docs"), ")."),
          h("li", null, "Already have users? ", h("a", { href: "/portal/synchronisation?app=" + encodeURIComponent(id) + "#import-existing-users" }, "Import them"), " as proposals they accept."))));
      return;
    }
    var regions = (a.usersPerRegion || []).map(function (r) { return { label: r.region || "Unknown", value: r.count }; });
    var sessions = (a.sessionsDistribution || []).map(function (b) { return { label: b.label, value: b.count }; });
    var states = [["UNUSED", "Unused"], ["ACTIVE", "Active"], ["EXPIRED", "Expired"]].map(function (x) { return { label: x[1], value: lic[x[0]] || 0 }; });
    fill("analytics", stats,
      h("div", { class: "grid" },
        card("Sign-ups per day", "signups", Charts.line(signups, "Sign-ups per day, last 30 days", { unit: "sign-up", column: "Sign-ups" })),
        card("Active users per day", "active", h("p", { class: "small muted" }, "People whose latest sign-in fell on that day."),
          Charts.line(active, "Active users per day, last 30 days", { unit: "person", units: "people", column: "Active users" }))),
      h("div", { class: "grid" },
        card("Sign-ins per person", "sessions", h("p", { class: "small muted" }, "How many people signed in how often."),
          Charts.bars(sessions, "People by number of sign-ins", { sort: false })),
        card("Regions", "regions", Charts.bars(regions, "Users by region", { max: 8 })),
        card("Licenses", "license-states", licTotal ? Charts.bars(states, "License codes by state", { sort: false })
          : h("p", { class: "empty" }, "No license codes yet. ", h("a", { href: "/portal/licenses?app=" + encodeURIComponent(id) }, "Create a variant and generate codes"), "."))));
  }

  async function appView() {
    var id = view.getAttribute("data-app-id");
    var app, role;
    try {
      // The role decides what the page offers (README, Teams and roles); the server checks it
      // again on every call. Support may not read the webhook URL.
      role = (await gql(Q.appRole, { id: id })).application.viewerRole;
      app = (await gql(role === "SUPPORT" ? Q.appLimited : Q.app, { id: id })).application;
    } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!app) { fill(view, h("div", { class: "alert error" }, "No such application.")); return; }
    var may = {
      settings: role !== "SUPPORT", secrets: role === "OWNER" || role === "ADMIN", del: role === "OWNER",
      team: role === "OWNER" || role === "ADMIN", activity: role !== "SUPPORT"
    };
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
    var webhookSecret = h("div", { class: "stack" });
    // Server messages start with the setting they are about ("website: must be …").
    var keyOf = [[/^name /, "name"], [/^website:/, "website"], [/^iconUrl:/, "iconUrl"], [/^termsUrl:/, "termsUrl"], [/^privacyUrl:/, "privacyUrl"],
      [/^webhookUrl:|webhook/i, "webhookUrl"], [/^idTokenSigningAlg/, "idTokenSigningAlg"], [/^backchannel/i, "backchannelLogoutUri"]];
    var settings = h("form", { id: "settings", novalidate: true },
      h("div", { class: "grid" }, field("Name", inputs.name), field("Website", inputs.website), field("Icon URL", inputs.iconUrl),
        field("Terms URL", inputs.termsUrl), field("Privacy URL", inputs.privacyUrl), field("Webhook URL", inputs.webhookUrl),
        field("id_token signing algorithm", inputs.idTokenSigningAlg, "ES256 (default) or RS256, for clients that verify only RSA."),
        field("Back-channel logout URI", inputs.backchannelLogoutUri, "Receives a signed logout token when a person signs out."),
        field("Post-logout redirect URIs", logoutUris, "Where sign-out may return people (post_logout_redirect_uri), one per line.")),
      h("button", { class: "primary", type: "submit" }, "Save settings"), webhookSecret);
    settings.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = {};
      Object.keys(inputs).forEach(function (k) { input[k] = inputs[k].value.trim(); });
      input.postLogoutRedirectUris = lines(logoutUris.value);
      LS.busy(settings, async function () {
        var d = (await gql(Q.update, { id: id, input: input })).updateApplication;
        document.querySelector("h1").textContent = d.application.name;
        if (d.webhookSecret) showSecret(webhookSecret, "Webhook secret", d.webhookSecret);
      }, "Settings saved.", { field: function (e) {
        if (/post-logout/i.test(e.message)) return logoutUris;
        var k = keyOf.find(function (x) { return x[0].test(e.message); });
        return k ? inputs[k[1]] : null;
      } });
    });

    // Redirect URIs: Add and Remove save at once, so the list always shows what is registered
    // and Check tests exactly that.
    var uris = app.redirectUris.slice();
    var uriList = h("ul", { class: "list", id: "redirect-list" });
    var uriStatus = h("div", { class: "form-status", "aria-live": "polite" });
    async function saveUris(next) {
      var d = (await gql(Q.update, { id: id, input: { redirectUris: next } })).updateApplication;
      uris = d.application.redirectUris.slice();
      drawUris();
    }
    function drawUris() {
      fill(uriList, uris.length ? uris.map(function (u) {
        var health = h("span", { class: "badge", "data-health": u }, "saved · not checked");
        return h("li", { "data-uri": u }, h("div", { class: "grow mono" }, u), health,
          h("button", { type: "button", class: "small", onclick: function (ev) { check(ev.target, u, health); } }, "Check"),
          LS.confirmButton("Remove", "Confirm remove", "small", function () { return saveUris(uris.filter(function (x) { return x !== u; })); },
            u + " was removed.", { at: uriStatus }));
      }) : h("li", { class: "empty" }, "No redirect URIs yet: sign-in cannot return to your app until you add one."));
    }
    async function check(btn, u, badge) {
      await LS.busy(btn, async function () {
        var r = (await gql(Q.checkRedirect, { id: id, uri: u })).redirectUriCheck;
        badge.className = "badge " + (r.ok ? "ok" : "danger");
        badge.textContent = r.ok ? (r.https ? "ok" : "ok (http, local only)") : (r.problems.join("; ") || (r.redirectUriRegistered ? "problem" : "not registered"));
      }, null, { at: uriStatus });
    }
    var newUri = h("input", { type: "url", id: "new-uri", placeholder: "https://example.com/callback", autocomplete: "off" });
    var addForm = h("form", { id: "redirects", class: "row", novalidate: true },
      h("label", { class: "visually-hidden", for: "new-uri" }, "Add a redirect URI"), newUri, h("button", { type: "submit" }, "Add"));
    addForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var u = newUri.value.trim();
      LS.busy(addForm, async function () {
        if (!u) throw LS.invalid(newUri, "Enter a redirect URI such as https://example.com/callback.");
        if (uris.indexOf(u) >= 0) throw LS.invalid(newUri, "This redirect URI is already registered.");
        await saveUris(uris.concat([u]));
        newUri.value = "";
        return u;
      }, function (u) { return u + " is registered."; }, { at: uriStatus });
    });
    var origins = h("textarea", { rows: 3, id: "allowed-origins" }, app.allowedOrigins.join("\n"));
    var originsForm = h("form", { id: "origins", novalidate: true },
      field("Allowed origins", origins, "Browser origins allowed to call LoginSign and to frame the login widget, one per line."),
      h("button", { class: "primary", type: "submit" }, "Save allowed origins"));
    originsForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(originsForm, async function () {
        var d = (await gql(Q.update, { id: id, input: { allowedOrigins: lines(origins.value) } })).updateApplication;
        origins.value = d.application.allowedOrigins.join("\n");
      }, "Allowed origins saved.");
    });
    drawUris();

    var clientSecret = h("div", { id: "client-secret-result" });
    var webhookRotated = h("div", { id: "webhook-secret-result" });
    if (!may.settings) [].forEach.call(settings.querySelectorAll("input, select, textarea, button"), function (c) { c.disabled = true; });
    if (!may.settings) [addForm, originsForm].forEach(function (f) { [].forEach.call(f.querySelectorAll("input, textarea, button"), function (c) { c.disabled = true; }); });
    fill(view,
      card("Credentials", "credentials",
        h("p", null, "Client ID ", h("code", { "data-client-id": app.id }, app.id), " ", LS.copyButton(app.id, "Copy client ID")),
        h("p", { class: "small muted", id: "your-role" }, "Your role: " + role.toLowerCase() + "."),
        may.secrets && h("div", { class: "stack" },
          h("div", null, LS.confirmButton("Reset client secret", "Confirm: the old secret stops working", "", async function () {
            var d = await gql(Q.rotateSecret, { id: id });
            showSecret(clientSecret, "Client secret", d.rotateClientSecret.secret);
            clientSecret.firstChild.append(h("p", { class: "small" }, "Put it in your app's backend configuration now: the old secret no longer works for the token endpoint."));
          }), clientSecret),
          h("div", null, LS.confirmButton("Rotate webhook secret", "Confirm rotation", "", async function () {
            var d = await gql(Q.rotateWebhook, { id: id });
            showSecret(webhookRotated, "Webhook secret", d.rotateWebhookSecret.secret);
            webhookRotated.firstChild.append(h("p", { class: "small" }, "Webhooks are signed with it from now on: update your receiver's secret."));
          }), webhookRotated))),
      card("Quickstart", "quickstart", slot("quickstart")),
      card("Settings", "settings-card", settings),
      card("Redirect URIs", "redirect-uris", h("p", { class: "small muted" }, "Where sign-in may return people. Each change is saved at once."), uriList, addForm, uriStatus),
      card("Allowed origins", "allowed-origins-card", originsForm),
      card("Members", "members", slot("members")),
      may.activity && card("Activity", "app-activity", slot("app-activity")),
      may.del && card("Delete this application", "delete-app", h("p", { class: "muted" }, "Every connection ends and its users' private addresses for this app stop working. This cannot be undone."),
        LS.confirmButton("Delete application", "Confirm: delete " + app.name, "danger", async function () {
          await gql(Q.deleteApp, { id: id });
          location.assign("/portal/apps");
        })));
    try { fill("quickstart", Quickstart.section((await gql(Q.quickstart, { id: id })).application.quickstart)); } catch (e) { failed("quickstart", e); }
    loadMembers(id, may);
    if (may.activity) loadAppActivity(id);
  }

  // The Members card: the team with roles; owner and admin invite, revoke, change roles and
  // remove; the owner proposes a transfer; any other member may leave.
  var ROLES = [["ADMIN", "Admin"], ["DEVELOPER", "Developer"], ["SUPPORT", "Support"]];
  async function loadMembers(id, may) {
    var t, invs = [];
    try {
      t = (await gql(Q.team, { id: id })).application;
      if (may.team) invs = (await gql(Q.invitations, { id: id })).application.invitations;
    } catch (e) { failed("members", e); return; }
    var status = h("div", { class: "form-status", id: "members-status", "aria-live": "polite" });
    var owner = t.viewerRole === "OWNER";
    var tr = t.ownershipTransfer;
    var reload = function () { loadMembers(id, may); };
    var rows = t.members.map(function (m) {
      var actions = h("td", null);
      if (m.role !== "OWNER" && may.team && !m.isViewer) {
        var sel = h("select", { "aria-label": "Role of " + m.email, "data-role-of": m.email },
          ROLES.map(function (r) { return h("option", { value: r[0], selected: r[0] === m.role }, r[1]); }));
        sel.addEventListener("change", function () {
          LS.busy(sel, async function () { await gql(Q.changeRole, { input: { applicationId: id, userId: m.userId, role: sel.value } }); }, m.email + " is now " + sel.value.toLowerCase() + ".", { at: status });
        });
        actions.append(sel, " ", LS.confirmButton("Remove", "Confirm remove", "small", async function () {
          await gql(Q.removeMember, { input: { applicationId: id, userId: m.userId } }); reload();
        }, m.email + " was removed.", { at: status }));
      }
      if (owner && m.role !== "OWNER" && !(tr && tr.toUserId === m.userId)) {
        actions.append(" ", LS.confirmButton("Transfer ownership", "Confirm: propose to " + m.email, "small", async function () {
          await gql(Q.proposeTransfer, { input: { applicationId: id, userId: m.userId } }); reload();
        }, "Proposed: " + m.email + " becomes the owner once they accept.", { at: status }));
      }
      if (m.isViewer && m.role !== "OWNER") {
        actions.append(LS.confirmButton("Leave", "Confirm: leave this team", "small", async function () {
          await gql(Q.leave, { input: { applicationId: id } }); location.assign("/portal/apps");
        }));
      }
      return h("tr", { "data-member": m.email, "data-member-role": m.role.toLowerCase() },
        h("td", null, m.name || m.email, m.name ? h("div", { class: "small muted" }, m.email) : null),
        h("td", null, h("span", { class: "badge" }, m.role.toLowerCase())), h("td", null, LS.date(m.joinedAt)), actions);
    });
    var parts = [table(["Member", "Role", "Joined", ""], rows, "No members.")];
    if (tr) {
      var mine = t.members.some(function (m) { return m.isViewer && m.userId === tr.toUserId; });
      parts.push(h("div", { class: "alert", id: "transfer" }, "Ownership transfer to " + tr.toEmail + " proposed, until " + LS.date(tr.expiresAt) + ". ",
        mine ? h("button", { type: "button", class: "primary small", onclick: function (ev) {
          LS.busy(ev.target, async function () { await gql(Q.acceptTransfer, { input: { applicationId: id } }); location.reload(); }, "You own this application now.", { at: status });
        } }, "Accept ownership") : null,
        (owner || mine) ? h("button", { type: "button", class: "small", onclick: function (ev) {
          LS.busy(ev.target, async function () { await gql(Q.cancelTransfer, { input: { applicationId: id } }); reload(); }, "Transfer cancelled.", { at: status });
        } }, owner ? "Cancel transfer" : "Decline") : null));
    }
    if (may.team) {
      var email = h("input", { type: "email", id: "invite-email", required: true, autocomplete: "off", placeholder: "colleague@example.com" });
      var role = h("select", { id: "invite-role" }, ROLES.map(function (r) { return h("option", { value: r[0], selected: r[0] === "DEVELOPER" }, r[1]); }));
      var form = h("form", { id: "invite", novalidate: true }, h("div", { class: "grid" }, field("Invite by email", email), field("Role", role)),
        h("button", { class: "primary", type: "submit" }, "Send invitation"));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(form, async function () {
          var d = (await gql(Q.invite, { input: { applicationId: id, email: email.value.trim(), role: role.value } })).inviteMember.invitation;
          email.value = "";
          setTimeout(reload, 1200);
          return d;
        }, function (d) { return "Invitation sent to " + d.email + "."; }, { field: function () { return email; } });
      });
      parts.push(h("h3", null, "Pending invitations"), table(["Address", "Role", "Expires", ""], invs.map(function (i) {
        return h("tr", { "data-invitation": i.email }, h("td", null, i.email), h("td", null, i.role.toLowerCase()), h("td", null, LS.date(i.expiresAt)),
          h("td", null, LS.confirmButton("Revoke", "Confirm revoke", "small", async function () {
            await gql(Q.revokeInvitation, { input: { applicationId: id, invitationId: i.id } }); reload();
          }, "Invitation revoked.", { at: status })));
      }), "No pending invitations."), form);
    }
    parts.push(status);
    fill("members", h("div", null, parts));
  }

  // The invitee's page (/portal/invitation?token=…): accepting needs the invited address on
  // the signed-in account; the server refuses any other account.
  async function invitationView() {
    var token = new URLSearchParams(location.search).get("token") || "";
    var status = h("div", { class: "form-status", id: "invitation-status", "aria-live": "polite" });
    var btn = h("button", { type: "button", class: "primary", id: "accept-invitation" }, "Accept the invitation");
    btn.addEventListener("click", function () {
      LS.busy(btn, async function () {
        var d = (await gql(Q.acceptInvitation, { input: { token: token } })).acceptInvitation;
        fill(status, h("span", null, "You joined " + d.application.name + " as " + d.role.toLowerCase() + ". ",
          h("a", { href: "/portal/apps/" + encodeURIComponent(d.application.id), id: "open-app" }, "Open the application")));
        btn.disabled = true;
        return d;
      }, null, { at: status });
    });
    fill(view, card("Join an application team", "invitation",
      h("p", null, "You were invited to help run an application on LoginSign. The invitation was sent to one address: it works only for the account that holds that address, verified."),
      token ? btn : h("div", { class: "alert error" }, "This link has no invitation token."), status));
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

  // ---- Users ----------------------------------------------------------------------------------

  async function usersView() {
    try { await loadApps(); } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!apps.length) { noApps(); return; }
    var id = picker();
    var search = h("input", { type: "search", id: "user-search", placeholder: "Global User ID, name or address" });
    var fStatus = h("select", { id: "filter-status" }, [["", "Any"], ["active", "Active"], ["inactive", "Inactive"], ["blocked", "Blocked"]].map(function (o) { return h("option", { value: o[0] }, o[1]); }));
    var fMail = h("select", { id: "filter-mail" }, [["", "Any"], ["muted", "Not delivered (muted)"], ["delivered", "Delivered"]].map(function (o) { return h("option", { value: o[0] }, o[1]); }));
    var fRegion = h("input", { type: "text", id: "filter-region", placeholder: "e.g. DE", autocomplete: "off" });
    var fJoinedAfter = h("input", { type: "date", id: "filter-joined-after" });
    var fJoinedBefore = h("input", { type: "date", id: "filter-joined-before" });
    var fSeenAfter = h("input", { type: "date", id: "filter-seen-after" });
    var pager = h("div", { class: "pager" });
    var listStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var cursors = [null];
    var pageNo = 0;
    var form = h("form", { id: "user-filters", role: "search", novalidate: true },
      h("div", { class: "row" }, h("label", { class: "visually-hidden", for: "user-search" }, "Search users"), search, h("button", { type: "submit" }, "Search")),
      h("details", { class: "filters" }, h("summary", null, "More filters"),
        h("div", { class: "grid filters-grid" }, field("Status", fStatus), field("Relay mail", fMail), field("Region", fRegion),
          field("Joined on or after", fJoinedAfter), field("Joined before", fJoinedBefore), field("Last sign-in on or after", fSeenAfter)),
        h("button", { type: "reset", class: "small" }, "Clear filters")));
    form.addEventListener("submit", function (ev) { ev.preventDefault(); cursors = [null]; pageNo = 0; load(); });
    form.addEventListener("reset", function () { setTimeout(function () { cursors = [null]; pageNo = 0; load(); }); });
    [fStatus, fMail].forEach(function (c) { c.addEventListener("change", function () { cursors = [null]; pageNo = 0; load(); }); });
    fill(view, card("Connected users", "users", form, h("div", { class: "small muted", "data-slot": "user-count", "aria-live": "polite" }), listStatus, slot("users-table"), pager),
      h("p", { class: "muted" }, "Bring users you already have: ", h("a", { href: "/portal/synchronisation?app=" + encodeURIComponent(id) + "#import-existing-users" }, "import existing users"), ". ",
        h("a", { class: "btn small", id: "export-users", href: "/api/developer/applications/" + encodeURIComponent(id) + "/users/export", download: "" }, "Export users as CSV")));

    function day(v) { return v ? new Date(v + "T00:00:00Z").toISOString() : null; }
    function filter() {
      var f = {};
      if (search.value.trim()) f.search = search.value.trim();
      if (fStatus.value === "active") { f.active = true; f.blocked = false; }
      if (fStatus.value === "inactive") f.active = false;
      if (fStatus.value === "blocked") f.blocked = true;
      if (fMail.value) f.muted = fMail.value === "muted";
      if (fRegion.value.trim()) f.region = fRegion.value.trim();
      if (fJoinedAfter.value) f.joinedAfter = day(fJoinedAfter.value);
      if (fJoinedBefore.value) f.joinedBefore = day(fJoinedBefore.value);
      if (fSeenAfter.value) f.lastSessionAfter = day(fSeenAfter.value);
      return Object.keys(f).length ? f : null;
    }

    // editor opens below a user's row: the developer's own record of the address (appEmail),
    // and a request that the person change their LoginSign address (they must confirm it).
    function editor(u, tr) {
      var next = tr.nextElementSibling;
      if (next && next.classList.contains("editor-row")) { next.remove(); return; }
      var rec = h("input", { type: "email", id: "app-email-" + u.id, value: u.developerEmail || "", autocomplete: "off" });
      var recForm = h("form", { class: "stack", novalidate: true }, field("Your record of their address (appEmail)", rec,
        "Kept for you only. It does not change where LoginSign sends mail or what the person sees. Empty clears it."), h("button", { type: "submit" }, "Save record"));
      recForm.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(recForm, async function () {
          var d = (await gql(Q.updateDevEmail, { app: id, id: u.id, appEmail: rec.value.trim() })).editAppConnection.connection;
          u.developerEmail = d.developerEmail;
          fill(tr.cells[2], emailCell(u));
        }, function () { return rec.value.trim() ? "Saved." : "Cleared."; });
      });
      var ask = h("input", { type: "email", id: "sync-email-" + u.id, required: true, autocomplete: "off" });
      var askForm = h("form", { class: "stack", novalidate: true }, field("Ask them to use a new sign-in address", ask,
        "Email sync is a request: LoginSign mails the person at the new address and nothing changes until they confirm it there while signed in. The answer is the same whether or not the address belongs to anyone."),
        h("button", { type: "submit" }, "Send request"));
      askForm.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(askForm, async function () {
          return (await gql(Q.syncEmail, { app: id, id: u.id, email: ask.value.trim() })).proposeConnectionEmail;
        }, function (r) { return r.pending ? "Request sent. The address changes only if the person confirms it from that mailbox." : "That already is the person's address; nothing to confirm."; });
      });
      var row = h("tr", { class: "editor-row" }, h("td", { colspan: tr.cells.length }, h("div", { class: "grid editor" }, recForm, askForm)));
      tr.insertAdjacentElement("afterend", row);
      rec.focus();
    }

    function emailCell(u) {
      return [u.email && u.email !== "-" ? u.email : "—", u.developerEmail ? h("div", { class: "small muted" }, "your record: " + u.developerEmail) : null];
    }

    async function load() {
      var d;
      try { d = (await gql(Q.users, { id: id, filter: filter(), first: 25, after: cursors[pageNo] })).application.users; }
      catch (e) { failed("users-table", e); return; }
      fill("user-count", LS.plural(d.totalCount, "user"));
      fill("users-table", table(["Global User ID", "Name", "Email", "Status", "Sign-ins", "Last sign-in", "Region", ""], LS.edges(d).map(function (u) {
        var tr = h("tr", { "data-user": u.globalId }, h("td", null, h("code", null, u.globalId)), h("td", null, u.name || "—"),
          h("td", { "data-email": "" }, emailCell(u)),
          h("td", null, u.blocked ? h("span", { class: "badge danger" }, "blocked") : u.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge" }, "inactive"),
            u.emailMuted ? h("span", { class: "badge warn" }, "muted") : null),
          h("td", null, LS.num(u.loginCount)), h("td", null, LS.dateTime(u.lastSessionAt)), h("td", null, u.region || "—"),
          h("td", null, h("div", { class: "row" },
            h("button", { type: "button", class: "small", "aria-expanded": "false", onclick: function (ev) { editor(u, tr); ev.target.setAttribute("aria-expanded", String(!!(tr.nextElementSibling && tr.nextElementSibling.classList.contains("editor-row")))); } }, "Email…"),
            h("button", { type: "button", class: "small", onclick: function (ev) { LS.busy(ev.target, async function () { await gql(Q.updateUser, { app: id, id: u.id, isForwarding: !u.isForwarding }); await load(); }, u.isForwarding ? "Mail to " + u.globalId + "'s relay address is no longer forwarded." : "Mail to " + u.globalId + " is forwarded again.", { at: listStatus }); } }, u.isForwarding ? "Stop forwarding" : "Forward mail"),
            LS.confirmButton("Delete", "Confirm delete", "small", async function () { await gql(Q.deleteUser, { app: id, id: u.id }); await load(); }, "Connection deleted; the user_account_deleted webhook is on its way.", { at: listStatus }))));
        return tr;
      }), filter() ? "No user matches these filters." : "No one has connected yet."));
      fill(pager,
        h("button", { type: "button", class: "small", disabled: pageNo === 0, onclick: function () { pageNo--; load(); } }, "Previous"),
        h("span", { class: "small muted" }, "Page " + (pageNo + 1)),
        h("button", { type: "button", class: "small", disabled: !d.pageInfo.hasNextPage, onclick: function () { cursors[pageNo + 1] = d.pageInfo.endCursor; pageNo++; load(); } }, "Next"));
    }
    load();
  }

  // ---- Licenses -------------------------------------------------------------------------------

  var DURATIONS = [["LIFETIME", "Lifetime"], ["MONTH", "One month"], ["YEAR", "One year"]];
  function durationSelect(id, value) {
    return h("select", { id: id }, DURATIONS.map(function (d) { return h("option", { value: d[0], selected: d[0] === value }, d[1]); }));
  }

  async function licensesView() {
    try { await loadApps(); } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!apps.length) { noApps(); return; }
    var id = picker();
    var variants = [];

    var vName = h("input", { type: "text", required: true, id: "variant-name", autocomplete: "off" });
    var vDesc = h("input", { type: "text", id: "variant-description", autocomplete: "off" });
    var vDur = durationSelect("variant-duration");
    var vForm = h("form", { id: "variant-form", novalidate: true }, h("h3", null, "New variant"), h("div", { class: "grid" }, field("Name", vName), field("Description", vDesc), field("Duration", vDur)),
      h("button", { type: "submit" }, "Add variant"));
    vForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = vName.value.trim();
      LS.busy(vForm, async function () { await gql(Q.createVariant, { id: id, name: name, description: vDesc.value.trim() || null, duration: vDur.value }); vForm.reset(); await loadVariants(); },
        function () { return name + " added."; }, { field: vName });
    });

    var gVariant = h("select", { id: "generate-variant" });
    var gCount = h("input", { type: "number", min: 1, max: 10000, value: 10, id: "generate-count", required: true });
    var gOut = h("div", { class: "result" });
    var gForm = h("form", { id: "generate-form", novalidate: true }, h("div", { class: "grid" }, field("Variant", gVariant), field("How many", gCount, "1 to 10,000")),
      h("button", { class: "primary", type: "submit" }, "Generate codes"), gOut);
    gForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fill(gOut);
      LS.busy(gForm, async function () {
        var n = Number(gCount.value);
        if (!gVariant.value) throw LS.invalid(gVariant, "Add a variant first.");
        if (!Number.isInteger(n) || n < 1 || n > 10000) throw LS.invalid(gCount, "Enter a whole number from 1 to 10,000.");
        var d = (await gql(Q.generate, { id: id, variantId: gVariant.value, count: n })).generateLicenseCodes;
        var codes = h("textarea", { readonly: true, id: "generated-codes", rows: 4 }, (d.codes || []).join("\n"));
        fill(gOut, h("div", { class: "field" }, h("label", { for: "generated-codes" }, "Generated codes"), codes), LS.copyButton(codes, "Copy codes"));
        await Promise.all([loadVariants(), loadCodes()]);
        return d.codes.length;
      }, function (n) { return LS.plural(n, "code") + " generated."; }, { field: gCount });
    });

    var uVariant = h("select", { id: "upload-variant" });
    var uCodes = h("textarea", { id: "upload-codes", rows: 4, placeholder: "One code per line", required: true });
    var uOut = h("div", { class: "result" });
    var uForm = h("form", { id: "upload-form", novalidate: true }, field("Variant", uVariant), field("Codes", uCodes, "One per line: 4 to 64 letters, digits, - and _."), h("button", { type: "submit" }, "Upload codes"), uOut);
    uForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fill(uOut);
      LS.busy(uForm, async function () {
        if (!uVariant.value) throw LS.invalid(uVariant, "Add a variant first.");
        var d = (await gql(Q.upload, { id: id, variantId: uVariant.value, codes: lines(uCodes.value) })).uploadLicenseCodes;
        fill(uOut, h("div", { class: "alert " + (d.invalid.length ? "warn" : "ok"), role: "status" }, LS.num(d.created) + " added, " + LS.plural(d.duplicates.length, "duplicate") + ", " + LS.num(d.invalid.length) + " invalid."),
          d.invalid.length ? h("ul", null, d.invalid.map(function (r) { return h("li", null, "Line " + r.line + " (" + r.code + "): " + r.reason); })) : null);
        if (!d.invalid.length) uCodes.value = "";
        await Promise.all([loadVariants(), loadCodes()]);
      }, null, { field: uCodes });
    });

    var cSearch = h("input", { type: "search", id: "code-search", placeholder: "Code, Global User ID or address" });
    var cForm = h("form", { class: "row", role: "search" }, h("label", { class: "visually-hidden", for: "code-search" }, "Search codes"), cSearch, h("button", { type: "submit" }, "Search"));
    var cPager = h("div", { class: "pager" });
    var codeStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var variantStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var cursors = [null], pageNo = 0;
    cForm.addEventListener("submit", function (ev) { ev.preventDefault(); cursors = [null]; pageNo = 0; loadCodes(); });

    fill(view, card("Variants", "variants", variantStatus, slot("variants"), vForm),
      h("div", { class: "grid" }, card("Generate", "generate", gForm), card("Upload", "upload", uForm)),
      card("Codes", "codes", cForm, h("div", { class: "small muted", "data-slot": "code-count" }), codeStatus, slot("codes-table"), cPager));

    function variantEditor(v, li) {
      var name = h("input", { type: "text", required: true, id: "edit-name-" + v.id, value: v.name, autocomplete: "off" });
      var desc = h("input", { type: "text", id: "edit-description-" + v.id, value: v.description || "", autocomplete: "off" });
      var dur = durationSelect("edit-duration-" + v.id, v.duration);
      var f = h("form", { class: "variant-edit", novalidate: true, "data-edit-variant": v.name },
        h("div", { class: "grid" }, field("Name", name), field("Description", desc), field("Duration", dur, "Applies to codes redeemed from now on.")),
        h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Save variant"), h("button", { type: "button", onclick: function () { loadVariants(); } }, "Cancel")));
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(f, async function () {
          await gql(Q.updateVariant, { app: id, id: v.id, name: name.value.trim(), description: desc.value.trim(), duration: dur.value });
          await Promise.all([loadVariants(), loadCodes()]);
          return name.value.trim();
        }, function (n) { return n + " saved."; }, { field: name, at: variantStatus });
      });
      fill(li, f);
      name.focus();
    }

    // deleteVariant deletes v; while people hold active codes of it, it says so and offers to
    // delete it anyway (which ends those licenses) instead of failing.
    async function deleteVariant(v, force) {
      try { await gql(Q.deleteVariant, { app: id, id: v.id, force: force }); }
      catch (e) {
        if (e.code !== "variant_has_active_codes") throw e;
        var n = v.codeCounts ? v.codeCounts.active : 0;
        var m = LS.report(variantStatus, n ? v.name + " has " + LS.plural(n, "active code") + "." : v.name + " has active codes.", "warn");
        m.setAttribute("role", "alert");
        m.append(" Deleting " + v.name + " also ends those licenses for the people who hold them. ",
          LS.confirmButton("Delete " + v.name + " and its codes", "Confirm: end those licenses", "small", function () { return deleteVariant(v, true); },
            v.name + " and its codes were deleted.", { at: variantStatus }));
        return false;
      }
      await Promise.all([loadVariants(), loadCodes()]);
      return true;
    }

    async function loadVariants() {
      try { variants = (await gql(Q.variants, { id: id })).application.licenseVariants || []; } catch (e) { failed("variants", e); return; }
      fill("variants", variants.length ? h("ul", { class: "list" }, variants.map(function (v) {
        var c = v.codeCounts || { unused: 0, active: 0, expired: 0 };
        var li = h("li", { "data-variant": v.name }, h("div", { class: "grow" }, h("strong", null, v.name), " ", h("span", { class: "badge" }, String(v.duration).toLowerCase()), v.description ? h("div", { class: "small muted" }, v.description) : null),
          h("span", { class: "small muted", "data-counts": "" }, LS.num(c.unused) + " unused · " + LS.num(c.active) + " active · " + LS.num(c.expired) + " expired"),
          h("div", { class: "row" },
            h("button", { type: "button", class: "small", onclick: function () { variantEditor(v, li); } }, "Edit"),
            LS.confirmButton("Delete", "Confirm delete", "small", function () { return deleteVariant(v, false); },
              function (done) { return done ? v.name + " was deleted." : null; }, { at: variantStatus })));
        return li;
      })) : h("p", { class: "empty" }, "No variants yet. Add one to generate codes."));
      [gVariant, uVariant].forEach(function (sel) {
        var was = sel.value;
        fill(sel, variants.map(function (v) { return h("option", { value: v.id, selected: v.id === was }, v.name); }));
      });
    }
    async function loadCodes() {
      var d;
      try { d = (await gql(Q.codes, { id: id, q: cSearch.value.trim() || null, first: 50, after: cursors[pageNo] })).application.licenseCodes; } catch (e) { failed("codes-table", e); return; }
      fill("code-count", LS.plural(d.totalCount, "code"));
      fill("codes-table", table(["Code", "Variant", "State", "Owner", "Activated", "Expires", ""], LS.edges(d).map(function (c) {
        return h("tr", { "data-code": c.code }, h("td", null, h("code", null, c.code)), h("td", null, c.variant ? c.variant.name : "—"),
          h("td", null, h("span", { class: "badge " + (c.state === "ACTIVE" ? "ok" : "") }, String(c.state).toLowerCase())),
          h("td", null, c.owner ? [h("code", null, c.owner.globalId), " ", c.owner.email || ""] : "—"),
          h("td", null, LS.date(c.activatedAt)), h("td", null, c.expiresAt ? LS.date(c.expiresAt) : c.state === "ACTIVE" ? "never" : "—"),
          h("td", null, c.owner ? h("span", { class: "small muted" }, "in use") : LS.confirmButton("Delete", "Confirm", "small", async function () { await gql(Q.deleteCode, { app: id, id: c.id }); await Promise.all([loadVariants(), loadCodes()]); }, c.code + " was deleted.", { at: codeStatus })));
      }), cSearch.value.trim() ? "No code matches." : "No codes yet."));
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
    var results = h("div", { class: "stack", id: "sync-results", "aria-live": "polite" });
    function describe(r) {
      if (r.endpoint !== undefined && r.total !== undefined) return (r.ok ? "ok" : "failed") + " · " + r.endpoint + " · " + r.auth + " · " + LS.plural(r.total, "current login");
      if (r.endpoint !== undefined) return (r.ok ? "ok" : "failed") + " · " + r.endpoint + (r.webhookConfigured ? " · webhook events: " + r.events.join(", ") : " · no webhook URL set");
      return String(r.status).toLowerCase() + (r.lastStatusCode ? " · HTTP " + r.lastStatusCode : "") + (r.lastError ? " · " + r.lastError : "");
    }
    function test(label, q, key, after) {
      return h("button", { type: "button", onclick: function (ev) {
        LS.busy(ev.target, async function () {
          var r = (await gql(q, { id: id }))[key].result;
          fill(results, h("div", { class: "alert " + (r.ok === false || r.status === "FAILED" ? "error" : "ok"), role: "status" }, label + ": " + describe(r)));
          if (after) after(r);
        }, null, { at: results });
      } }, label);
    }

    var csv = h("textarea", { id: "import-csv", rows: 5, placeholder: "externalUserId,email,name\n42,ann@example.com,Ann" });
    var file = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv,text/plain" });
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      if (!f) return;
      LS.clearFieldError(file);
      if (f.size > 5 * 1024 * 1024) { LS.fieldError(file, "The file is larger than 5 MB; split it into several imports."); return; }
      f.text().then(function (t) { csv.value = t; LS.report(LS.statusFor(file.closest(".field")), f.name + ": " + LS.plural(lines(t).length - 1, "row") + " read. Check them below, then import.", "ok", false); },
        function () { LS.fieldError(file, "The file could not be read."); });
    });
    var impName = h("input", { type: "text", id: "import-name", placeholder: "Users from our old login", autocomplete: "off" });
    var impOut = h("div", { id: "import-results", class: "result" });
    var imp = h("form", { id: "import-form", novalidate: true }, field("Name of this import", impName),
      field("CSV file", file, "Or paste the rows below."),
      field("CSV rows", csv, "Header row first: externalUserId and email, optionally name, registrationDate and lastLoginDate."),
      h("button", { class: "primary", type: "submit" }, "Import"), impOut);
    imp.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fill(impOut);
      LS.busy(imp, async function () {
        var users;
        try { users = parseCSV(csv.value); } catch (e) { throw LS.invalid(csv, e.message); }
        var d = (await gql(Q.importUsers, { id: id, sourceName: impName.value.trim() || null, users: users })).importUsers;
        var c = d.source.counts;
        fill(impOut, h("div", { class: "alert ok", role: "status", tabindex: "-1" }, LS.plural(d.source.total, "row") + ": " + LS.num(c.imported) + " proposed, " + LS.num(c.alreadyConnected) + " already connected, " + LS.num(c.invalidRow) + " invalid."),
          h("p", { class: "muted small" }, "Each proposed row waits for the person: it becomes a connection when they next sign in to your app and allow it. LoginSign does not tell you which addresses have an account."),
          table(["Row", "External ID", "Email", "Result", "Message"], d.results.map(function (r) {
            return h("tr", null, h("td", null, String(r.row)), h("td", null, r.externalUserId || "—"), h("td", null, r.email || "—"),
              h("td", null, h("span", { class: "badge " + (r.status === "IMPORTED" ? "ok" : r.status === "ALREADY_CONNECTED" ? "" : "warn") }, r.status === "IMPORTED" ? "proposed" : String(r.status).toLowerCase().replace("_", " "))),
              h("td", null, r.message || ""));
          })),
          rollbackButton(d.source, "Roll back this import"));
        impOut.querySelector(".alert").focus();
        csv.value = "";
        file.value = "";
        loadImports();
      }, null, { field: function (e) { return /csv|row|header/i.test(e.message) ? csv : null; } });
    });

    function rollbackButton(src, label) {
      return LS.confirmButton(label || "Roll back", "Confirm roll back", "small", async function () {
        var rb = (await gql(Q.rollback, { app: id, id: src.id })).rollbackImport;
        await loadImports();
        return rb;
      }, function (rb) { return "Import rolled back: " + LS.plural(rb.withdrawnLinks, "proposal") + " withdrawn, " + LS.plural(rb.deletedConnections, "connection") + " removed."; },
      { at: importsStatus });
    }

    var importsStatus = h("div", { class: "form-status", id: "imports-status", "aria-live": "polite" });
    var deliveriesStatus = h("div", { class: "form-status", "aria-live": "polite" });
    fill(view,
      card("Test your endpoints", "sync-tests", h("p", { class: "muted" }, "Each test calls your backend now and shows what came back."),
        h("div", { class: "row" }, test("Email sync", Q.testEmailSync, "testEmailSyncApi"), test("Current logins", Q.testLogins, "testCurrentLoginsSyncApi"),
          test("Send a test webhook", Q.testWebhook, "sendTestWebhook", function () { watchDeliveries(); })), results,
        h("p", { class: "small muted" }, "Email sync asks a person to change their LoginSign address: they get a mail and nothing changes until they confirm it. Send a request from a user's ", h("strong", null, "Email…"), " button on ", h("a", { href: "/portal/users?app=" + encodeURIComponent(id) }, "Users"), ".")),
      card("Webhook deliveries", "deliveries", h("div", { class: "row spread" }, h("p", { class: "small muted" }, "The latest 50 events, newest first."),
        h("button", { type: "button", class: "small", onclick: function (ev) { LS.busy(ev.target, loadDeliveries, null, { at: deliveriesStatus }); } }, "Refresh")), deliveriesStatus, slot("deliveries")),
      card("Import existing users", "import-existing-users", imp),
      card("Past imports", "past-imports", importsStatus, slot("imports")));
    loadDeliveries();
    loadImports();

    // watchDeliveries reloads the list until no event is pending (at most 20 s), so a test
    // webhook shows up and turns delivered without a page reload.
    var watching = null;
    function watchDeliveries() {
      clearTimeout(watching);
      var until = Date.now() + 20000;
      (async function tick() {
        var evs = await loadDeliveries();
        if (evs && evs.some(function (e) { return e.status === "PENDING"; }) && Date.now() < until) watching = setTimeout(tick, 700);
      })();
    }

    async function loadDeliveries() {
      var d;
      try { d = (await gql(Q.deliveries, { id: id })).application.webhookEvents; } catch (e) { failed("deliveries", e); return null; }
      var evs = LS.edges(d);
      fill("deliveries", table(["Event", "Status", "Attempts", "Last answer", "Created", ""], evs.map(function (ev) {
        var st = String(ev.status).toLowerCase();
        return h("tr", { "data-event": ev.type, "data-status": st }, h("td", null, h("code", null, ev.type)),
          h("td", null, h("span", { class: "badge " + (st === "delivered" ? "ok" : st === "pending" ? "warn" : "danger") }, st)),
          h("td", null, LS.num(ev.attempts)), h("td", null, ev.lastStatusCode ? "HTTP " + ev.lastStatusCode : ev.lastError || "—"),
          h("td", null, LS.dateTime(ev.createdAt)),
          h("td", null, h("button", { type: "button", class: "small", onclick: function (e2) { LS.busy(e2.target, async function () { await gql(Q.redeliver, { app: id, id: ev.id }); watchDeliveries(); }, "Queued for redelivery.", { at: deliveriesStatus }); } }, "Redeliver")));
      }), "No webhook events yet. Send a test webhook above."));
      return evs;
    }

    async function loadImports() {
      var d;
      try { d = (await gql(Q.imports, { id: id })).application.importSources; } catch (e) { failed("imports", e); return; }
      fill("imports", table(["Import", "Rows", "Proposed", "Already connected", "Invalid", "When", ""], LS.edges(d).map(function (src) {
        var c = src.counts;
        return h("tr", { "data-import": src.name }, h("td", null, src.name, src.kind ? h("div", { class: "small muted" }, String(src.kind).toLowerCase()) : null),
          h("td", null, LS.num(src.total)), h("td", null, LS.num(c.imported)), h("td", null, LS.num(c.alreadyConnected)), h("td", null, LS.num(c.invalidRow)),
          h("td", null, LS.dateTime(src.createdAt)),
          h("td", null, src.rolledBackAt ? h("span", { class: "badge" }, "rolled back " + LS.date(src.rolledBackAt)) : rollbackButton(src)));
      }), "No imports yet."));
    }
  }

  var VIEWS = { invitation: invitationView, overview: overviewView, apps: appsView, app: appView, users: usersView, licenses: licensesView, synchronisation: syncView };
  (VIEWS[kind] || overviewView)();
})();

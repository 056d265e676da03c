// portal.js: the Developer Portal, a client of /graphql only, but for the users CSV export (a
// REST download, LS.download) and the import of existing users (a REST upload, LS.post: the
// server's one CSV reader reads it, as every upload). One view per page, chosen by
// #view[data-view]; the application being managed is ?app=<id> (remembered per tab).
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql, say = LS.say, T = LS.t;
  var view = document.getElementById("view");
  var kind = view.getAttribute("data-view");

  var APP_FIELDS = "id name website iconUrl termsUrl privacyUrl redirectUris allowedOrigins createdAt viewerRole";
  var QUICKSTART = "quickstart { issuer discoveryUrl redirectUri authorizeUrl tokenCurl clientCredentialsCurl node python go }";
  // The GraphQL operations of the portal, in one place.
  var Q = {
    apps: "query PortalApps { applications(first: 100) { totalCount edges { node { " + APP_FIELDS + " } } } }",
    app: "query PortalApp($id: ID!) { application(id: $id) { " + APP_FIELDS + " webhookUrl idTokenSigningAlg postLogoutRedirectUris backchannelLogoutUri requirePushedAuthorizationRequests deletingSince } }",
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
    rollback: "mutation UndoImport($app: ID!, $id: ID!) { rollbackImport: undoImport(input: { applicationId: $app, sourceId: $id }) { deletedConnections withdrawnLinks } }",
    imports: "query Imports($id: ID!) { application(id: $id) { id importSources(first: 20) { totalCount edges { node { id name kind total createdAt rolledBackAt counts { imported alreadyConnected invalidRow } } } } } }",
    updateVariant: "mutation EditLicenseVariant($app: ID!, $id: ID!, $name: String, $description: String, $duration: LicenseVariantDuration) { editLicenseVariant(input: { applicationId: $app, variantId: $id, name: $name, description: $description, duration: $duration }) { variant { id name description duration } } }",
    updateDevEmail: "mutation EditAppEmail($app: ID!, $id: ID!, $appEmail: String!) { editAppConnection(input: { applicationId: $app, connectionId: $id, appEmail: $appEmail }) { connection { id developerEmail } } }",
    appRole: "query PortalAppRole($id: ID!) { application(id: $id) { id viewerRole } }",
    appLimited: "query PortalAppLimited($id: ID!) { application(id: $id) { " + APP_FIELDS + " idTokenSigningAlg postLogoutRedirectUris requirePushedAuthorizationRequests deletingSince } }",
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

  function slot(id) { return h("div", { "data-slot": id }, h("p", { class: "empty" }, T("portal.loading"))); }
  function failed(id, e) { fill(id, h("div", { class: "alert error", role: "alert" }, e.message)); }

  function field(label, input, hint) {
    var id = input.id || ("f-" + Math.random().toString(36).slice(2, 8));
    input.id = id;
    return h("div", { class: "field" }, h("label", { for: id }, label, hint ? h("div", { class: "hint" }, hint) : null), input);
  }

  function lines(s) { return (s || "").split(/\s*[\r\n]\s*/).map(function (x) { return x.trim(); }).filter(Boolean); }

  // csvRows is how many rows the server's CSV reader (csvtable.Read) imports from text: its
  // records (a line break inside quotes stays in its field), blank ones skipped, less the first
  // when it names a column (data-import-columns, portal.ImportHeaderNames), the header row. A
  // file without a header counts every row (it counted one fewer, as if its first were one).
  function csvRows(text) {
    var names = (view.getAttribute("data-import-columns") || "").split(" ");
    var records = [], cur = "", quoted = false;
    text = (text || "").replace(/^\ufeff/, "");
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === '"') quoted = !quoted;
      if (!quoted && (c === "\n" || c === "\r")) {
        if (c === "\r" && text[i + 1] === "\n") i++;
        records.push(cur); cur = ""; continue;
      }
      cur += c;
    }
    records.push(cur);
    records = records.filter(function (r) { return r.trim() !== ""; });
    if (!records.length) return 0;
    // Delimiters are counted outside quoted fields, as csvtable.delimiters counts them.
    var first = records[0], outside = first.replace(/"[^"]*"/g, "");
    var count = function (d) { return outside.split(d).length - 1; };
    var delim = count(";") > count(",") ? ";" : ",";
    if (count("\t") > Math.max(count(","), count(";"))) delim = "\t";
    var header = first.split(delim).some(function (f) {
      return names.indexOf(f.trim().replace(/^"|"$/g, "").trim().toLowerCase().replace(/[- ]/g, "_")) >= 0;
    });
    return records.length - (header ? 1 : 0);
  }

  // fileText reads a chosen CSV as the server decodes it (csvtable.Decode): UTF-16 after its
  // byte order mark, UTF-8, else Windows-1252 (Excel's "CSV" on Windows), so the rows field
  // shows "René", not "Ren�". The file itself is what is sent while the field is unedited.
  function fileText(f) {
    return f.arrayBuffer().then(function (buf) {
      var b = new Uint8Array(buf);
      if (b[0] === 0xff && b[1] === 0xfe) return new TextDecoder("utf-16le").decode(b);
      if (b[0] === 0xfe && b[1] === 0xff) return new TextDecoder("utf-16be").decode(b);
      try { return new TextDecoder("utf-8", { fatal: true }).decode(b); } catch (e) { return new TextDecoder("windows-1252").decode(b); }
    });
  }

  // secretBox shows a secret once, with a Copy button, right where it was asked for.
  // name is the secret's English name (data-secret); label is what the page shows.
  function secretBox(label, value, name) {
    var v = h("code", { class: "secret", "data-secret": name || label }, value);
    return h("div", { class: "alert warn secret-box", role: "status", tabindex: "-1" }, h("strong", null, T("portal.shown_once", { secret: label })),
      h("div", { class: "row" }, v, LS.copyButton(v)));
  }
  function showSecret(box, label, value, name) {
    var b = secretBox(label, value, name);
    fill(box, b);
    b.focus({ preventScroll: true });
    b.scrollIntoView({ block: "nearest" });
  }

  // table draws rows under cols; on a phone each row becomes a card whose cells name their
  // column (data-label), action cells included. A column named "" holds the row's actions.
  // A table wider than the page scrolls in its frame, which takes keyboard focus so that it
  // scrolls without a mouse too (a long settings name in the activity log is one).
  function table(cols, rows, empty) {
    var actions = cols.indexOf("");
    cols = cols.map(function (c) { return c === "" ? T("portal.actions") : c; });
    var body = h("tbody", null, rows.length ? rows : h("tr", { class: "empty-row" }, h("td", { colspan: cols.length, class: "empty" }, empty || T("portal.nothing_yet"))));
    if (rows.length) [].forEach.call(body.rows, function (tr) {
      [].forEach.call(tr.cells, function (td, i) { if (cols[i]) td.setAttribute("data-label", cols[i]); if (i === actions) td.classList.add("actions-cell"); });
    });
    return h("div", { class: "table-wrap", tabindex: "0" }, h("table", { class: "cards" },
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
    fill(view, h("div", { class: "card" }, h("p", null, T("portal.no_apps_yet")), h("a", { class: "btn primary", href: "/portal/apps" }, T("portal.create_an_app"))));
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
      h("div", { class: "grid" }, field(T("portal.name"), name), field(T("portal.website"), website)),
      field(T("portal.redirect_uris"), redirects, T("portal.redirect_uris_hint")),
      field(T("portal.webhook_url"), webhook, T("portal.webhook_url_hint")),
      field(T("portal.allowed_origins"), origins, T("portal.allowed_origins_hint_new")),
      h("button", { class: "primary", type: "submit" }, T("portal.create_app")), out);
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
          fill(out, h("div", { class: "alert ok" }, T("portal.created", { app: r.application.name }), " ",
            h("a", { href: "/portal/apps/" + encodeURIComponent(r.application.id) }, T("portal.open_settings"))));
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
    return card(T("portal.new_app"), "new-app", form);
  }

  function renderAppList() {
    fill("apps", apps.length ? h("ul", { class: "list" }, apps.map(function (a) {
      // The initial: an icon URL, chosen by the app's owner or an admin, would tell them of every teammate's visit.
      return h("li", { "data-app": a.id }, LS.icon({ name: a.name }), h("div", { class: "grow" }, h("strong", null, a.name),
        h("div", { class: "small muted mono" }, a.id), h("div", { class: "small muted" }, T("portal.app_line", { uris: T("portal.redirect_uri_count", { count: a.redirectUris.length }), date: LS.date(a.createdAt) }))),
        h("a", { class: "btn small", href: "/portal/apps/" + encodeURIComponent(a.id) }, T("portal.settings")),
        h("a", { class: "btn small", href: "/portal/users?app=" + encodeURIComponent(a.id) }, T("portal.users")));
    })) : h("p", { class: "empty" }, T("portal.no_apps")));
  }

  async function appsView() {
    fill(view, card(T("portal.your_apps"), "apps-card", slot("apps")), createForm());
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
    fill(view, h("div", { "data-slot": "analytics" }, h("p", { class: "empty" }, T("portal.loading"))),
      card(T("portal.your_apps"), "apps-card", slot("apps"), h("a", { class: "btn primary", href: "/portal/apps#new-app" }, T("portal.new_app"))));
    gql(Q.myInvitations).then(function (d) {
      var invs = d.viewer.teamInvitations, status = h("div", { class: "form-status", "aria-live": "polite" });
      if (invs.length) view.insertBefore(card(T("portal.pending_invitations"), "my-invitations", myInvitationsTable(invs, status), status), view.firstChild);
    }, function () { /* the overview works without it; the invitation page reports the error */ });
    try { await loadApps(); } catch (e) { failed("apps", e); return; }
    renderAppList();
    var id = apps.length ? picker() : "";
    if (!apps.length) { var p = document.getElementById("app-picker"); if (p) p.closest(".field").hidden = true; }
    if (!id) {
      fill("analytics", h("div", { class: "card", id: "analytics-empty" }, h("h2", null, T("portal.numbers_appear")),
        h("p", null, T("portal.numbers_appear_lead")),
        h("a", { class: "btn primary", href: "/portal/apps#new-app" }, T("portal.create_an_app"))));
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
    var name = (apps.find(function (x) { return x.id === id; }) || {}).name || T("portal.this_app");

    var stats = h("div", { class: "stats", id: "headline" },
      Charts.headline(users, T("portal.stat_users", { count: users })),
      Charts.headline(sum(signups), T("portal.stat_signups", { count: sum(signups), days: days })),
      Charts.headline(sum(active), T("portal.stat_active", { count: sum(active), days: days })),
      Charts.headline(lic.ACTIVE || 0, T("portal.stat_licenses", { count: lic.ACTIVE || 0 }), licTotal ? T("portal.stat_unused", { count: lic.UNUSED || 0 }) : null));

    if (!users) {
      // One helpful card instead of empty charts.
      fill("analytics", stats, h("div", { class: "card", id: "analytics-empty" }, h("h2", null, T("portal.no_signin_yet", { app: name })),
        h("p", null, T("portal.no_signin_lead")),
        h("ol", { class: "steps" },
          h("li", null, T("portal.step1_before"), h("a", { href: "/portal/apps/" + encodeURIComponent(id) + "#redirect-uris" }, T("portal.step1_link")), T("portal.step1_after")),
          h("li", null, T("portal.step2_before"), h("a", { href: "/docs" }, T("portal.step2_link")), T("portal.step2_after")),
          h("li", null, T("portal.step3_before"), h("a", { href: "/portal/synchronisation?app=" + encodeURIComponent(id) + "#import-existing-users" }, T("portal.step3_link")), T("portal.step3_after")))));
      return;
    }
    var regions = (a.usersPerRegion || []).map(function (r) { return { label: r.region || T("portal.unknown"), value: r.count }; });
    var sessions = (a.sessionsDistribution || []).map(function (b) { return { label: b.label, value: b.count }; });
    var states = [["UNUSED", T("portal.unused")], ["ACTIVE", T("portal.active")], ["EXPIRED", T("portal.expired")]].map(function (x) { return { label: x[1], value: lic[x[0]] || 0 }; });
    fill("analytics", stats,
      h("div", { class: "grid" },
        card(T("portal.signups_per_day"), "signups", Charts.line(signups, T("portal.signups_per_day_30", { days: days }), { amount: function (n) { return T("portal.signup_count", { count: n }); }, column: T("portal.signups") })),
        card(T("portal.active_per_day"), "active", h("p", { class: "small muted" }, T("portal.active_per_day_lead")),
          Charts.line(active, T("portal.active_per_day_30", { days: days }), { amount: function (n) { return T("portal.person_count", { count: n }); }, column: T("portal.active_users") }))),
      h("div", { class: "grid" },
        card(T("portal.signins_per_person"), "sessions", h("p", { class: "small muted" }, T("portal.signins_per_person_lead")),
          Charts.bars(sessions, T("portal.people_by_signins"), { sort: false })),
        card(T("portal.regions"), "regions", Charts.bars(regions, T("portal.users_by_region"), { max: 8 })),
        card(T("portal.licenses"), "license-states", licTotal ? Charts.bars(states, T("portal.codes_by_state"), { sort: false })
          : h("p", { class: "empty" }, T("portal.no_codes_before"), h("a", { href: "/portal/licenses?app=" + encodeURIComponent(id) }, T("portal.no_codes_link")), T("portal.no_codes_after")))));
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
    if (!app) { fill(view, h("div", { class: "alert error" }, T("portal.no_such_app"))); return; }
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
    var requirePar = h("input", { type: "checkbox", name: "requirePushedAuthorizationRequests", checked: !!app.requirePushedAuthorizationRequests });
    var webhookSecret = h("div", { class: "stack" });
    // Server messages start with the setting they are about ("website: must be …").
    var keyOf = [[/^name /, "name"], [/^website:/, "website"], [/^iconUrl:/, "iconUrl"], [/^termsUrl:/, "termsUrl"], [/^privacyUrl:/, "privacyUrl"],
      [/^webhookUrl:|webhook/i, "webhookUrl"], [/^idTokenSigningAlg/, "idTokenSigningAlg"], [/^backchannel/i, "backchannelLogoutUri"]];
    var settings = h("form", { id: "settings", novalidate: true },
      h("div", { class: "grid" }, field(T("portal.name"), inputs.name), field(T("portal.website"), inputs.website), field(T("portal.icon_url"), inputs.iconUrl),
        field(T("portal.terms_url"), inputs.termsUrl), field(T("portal.privacy_url"), inputs.privacyUrl), field(T("portal.webhook_url"), inputs.webhookUrl),
        field(T("portal.signing_alg"), inputs.idTokenSigningAlg, T("portal.signing_alg_hint")),
        field(T("portal.backchannel"), inputs.backchannelLogoutUri, T("portal.backchannel_hint")),
        field(T("portal.post_logout"), logoutUris, T("portal.post_logout_hint")),
        field(T("portal.require_par"), requirePar, T("portal.require_par_hint"))),
      h("button", { class: "primary", type: "submit" }, T("portal.save_settings")), webhookSecret);
    settings.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = {};
      Object.keys(inputs).forEach(function (k) { input[k] = inputs[k].value.trim(); });
      input.postLogoutRedirectUris = lines(logoutUris.value);
      input.requirePushedAuthorizationRequests = requirePar.checked;
      LS.busy(settings, async function () {
        var d = (await gql(Q.update, { id: id, input: input })).updateApplication;
        document.querySelector("h1").textContent = d.application.name;
        if (d.webhookSecret) showSecret(webhookSecret, T("portal.webhook_secret"), d.webhookSecret, "Webhook secret");
      }, T("portal.settings_saved"), { field: function (e) {
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
        var health = h("span", { class: "badge", "data-health": u }, T("portal.uri_not_checked"));
        return h("li", { "data-uri": u }, h("div", { class: "grow mono" }, u), health,
          h("button", { type: "button", class: "small", onclick: function (ev) { check(ev.target, u, health); } }, T("portal.check")),
          LS.confirmButton(T("portal.remove"), T("portal.confirm_remove"), "small", function () { return saveUris(uris.filter(function (x) { return x !== u; })); },
            T("portal.was_removed", { what: u }), { at: uriStatus }));
      }) : h("li", { class: "empty" }, T("portal.no_redirect_uris")));
    }
    async function check(btn, u, badge) {
      await LS.busy(btn, async function () {
        var r = (await gql(Q.checkRedirect, { id: id, uri: u })).redirectUriCheck;
        badge.className = "badge " + (r.ok ? "ok" : "danger");
        badge.textContent = r.ok ? (r.https ? T("portal.uri_ok") : T("portal.uri_ok_http")) : (r.problems.join("; ") || (r.redirectUriRegistered ? T("portal.uri_problem") : T("portal.uri_not_registered")));
      }, null, { at: uriStatus });
    }
    var newUri = h("input", { type: "url", id: "new-uri", placeholder: "https://example.com/callback", autocomplete: "off" });
    var addForm = h("form", { id: "redirects", class: "row", novalidate: true },
      h("label", { class: "visually-hidden", for: "new-uri" }, T("portal.add_redirect_uri")), newUri, h("button", { type: "submit" }, T("portal.add")));
    addForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var u = newUri.value.trim();
      LS.busy(addForm, async function () {
        if (!u) throw LS.invalid(newUri, T("portal.enter_redirect_uri"));
        if (uris.indexOf(u) >= 0) throw LS.invalid(newUri, T("portal.uri_already"));
        await saveUris(uris.concat([u]));
        newUri.value = "";
        return u;
      }, function (u) { return T("portal.uri_registered", { uri: u }); }, { at: uriStatus });
    });
    var origins = h("textarea", { rows: 3, id: "allowed-origins" }, app.allowedOrigins.join("\n"));
    var originsForm = h("form", { id: "origins", novalidate: true },
      field(T("portal.allowed_origins"), origins, T("portal.allowed_origins_hint")),
      h("button", { class: "primary", type: "submit" }, T("portal.save_origins")));
    originsForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(originsForm, async function () {
        var d = (await gql(Q.update, { id: id, input: { allowedOrigins: lines(origins.value) } })).updateApplication;
        origins.value = d.application.allowedOrigins.join("\n");
      }, T("portal.origins_saved"));
    });
    drawUris();

    var clientSecret = h("div", { id: "client-secret-result" });
    var webhookRotated = h("div", { id: "webhook-secret-result" });
    if (!may.settings) [].forEach.call(settings.querySelectorAll("input, select, textarea, button"), function (c) { c.disabled = true; });
    if (!may.settings) [addForm, originsForm].forEach(function (f) { [].forEach.call(f.querySelectorAll("input, textarea, button"), function (c) { c.disabled = true; }); });
    fill(view,
      // A deletion that failed half-way: the application works no more, and only the same
      // deletion again finishes it.
      app.deletingSince && h("div", { class: "alert error", id: "deleting" }, T("portal.deleting_app")),
      card(T("portal.credentials"), "credentials",
        h("p", null, T("portal.client_id") + " ", h("code", { "data-client-id": app.id }, app.id), " ", LS.copyButton(app.id, T("portal.copy_client_id"))),
        h("p", { class: "small muted", id: "your-role" }, T("portal.your_role", { role: roleName(role) })),
        may.secrets && h("div", { class: "stack" },
          h("div", null, LS.confirmButton(T("portal.reset_client_secret"), T("portal.confirm_reset_secret"), "", async function () {
            var d = await gql(Q.rotateSecret, { id: id });
            showSecret(clientSecret, T("portal.client_secret"), d.rotateClientSecret.secret, "Client secret");
            clientSecret.firstChild.append(h("p", { class: "small" }, T("portal.client_secret_after")));
          }), clientSecret),
          h("div", null, LS.confirmButton(T("portal.rotate_webhook_secret"), T("portal.confirm_rotation"), "", async function () {
            var d = await gql(Q.rotateWebhook, { id: id });
            showSecret(webhookRotated, T("portal.webhook_secret"), d.rotateWebhookSecret.secret, "Webhook secret");
            webhookRotated.firstChild.append(h("p", { class: "small" }, T("portal.webhook_secret_after")));
          }), webhookRotated))),
      card(T("portal.quickstart"), "quickstart", slot("quickstart")),
      card(T("portal.settings"), "settings-card", settings),
      card(T("portal.redirect_uris"), "redirect-uris", h("p", { class: "small muted" }, T("portal.redirect_uris_lead")), uriList, addForm, uriStatus),
      card(T("portal.allowed_origins"), "allowed-origins-card", originsForm),
      card(T("portal.members"), "members", slot("members")),
      may.activity && card(T("portal.activity"), "app-activity", slot("app-activity")),
      may.del && card(T("portal.delete_app_title"), "delete-app", h("p", { class: "muted" }, T("portal.delete_app_lead")),
        LS.confirmButton(T("portal.delete_app"), T("portal.confirm_delete_app", { app: app.name }), "danger", async function () {
          await gql(Q.deleteApp, { id: id });
          location.assign("/portal/apps");
        })));
    try { fill("quickstart", Quickstart.section((await gql(Q.quickstart, { id: id })).application.quickstart)); } catch (e) { failed("quickstart", e); }
    loadMembers(id, may);
    if (may.activity) loadAppActivity(id);
  }

  // The Members card: the team with roles; owner and admin invite, revoke, change roles and
  // remove; the owner proposes a transfer; any other member may leave.
  var ROLES = [["ADMIN", T("portal.roles.admin")], ["DEVELOPER", T("portal.roles.developer")], ["SUPPORT", T("portal.roles.support")]];
  // roleName is a role as a word in a sentence or badge ("admin").
  function roleName(r) { var k = "portal.role." + String(r).toLowerCase(); return LS.has(k) ? T(k) : String(r).toLowerCase(); }
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
        var sel = h("select", { "aria-label": T("portal.role_of", { email: m.email }), "data-role-of": m.email },
          ROLES.map(function (r) { return h("option", { value: r[0], selected: r[0] === m.role }, r[1]); }));
        sel.addEventListener("change", function () {
          LS.busy(sel, async function () { await gql(Q.changeRole, { input: { applicationId: id, userId: m.userId, role: sel.value } }); }, function () { return T("portal.is_now", { email: m.email, role: roleName(sel.value) }); }, { at: status });
        });
        actions.append(sel, " ", LS.confirmButton(T("portal.remove"), T("portal.confirm_remove"), "small", async function () {
          await gql(Q.removeMember, { input: { applicationId: id, userId: m.userId } }); reload();
        }, T("portal.was_removed", { what: m.email }), { at: status }));
      }
      if (owner && m.role !== "OWNER" && !(tr && tr.toUserId === m.userId)) {
        actions.append(" ", LS.confirmButton(T("portal.transfer"), T("portal.confirm_transfer", { email: m.email }), "small", async function () {
          await gql(Q.proposeTransfer, { input: { applicationId: id, userId: m.userId } }); reload();
        }, T("portal.transfer_proposed", { email: m.email }), { at: status }));
      }
      if (m.isViewer && m.role !== "OWNER") {
        actions.append(LS.confirmButton(T("portal.leave"), T("portal.confirm_leave"), "small", async function () {
          await gql(Q.leave, { input: { applicationId: id } }); location.assign("/portal/apps");
        }));
      }
      return h("tr", { "data-member": m.email, "data-member-role": m.role.toLowerCase() },
        h("td", null, m.name || m.email, m.name ? h("div", { class: "small muted" }, m.email) : null),
        h("td", null, h("span", { class: "badge" }, roleName(m.role))), h("td", null, LS.date(m.joinedAt)), actions);
    });
    var parts = [table([T("portal.member"), T("portal.role_col"), T("portal.joined"), ""], rows, T("portal.no_members"))];
    if (tr) {
      var mine = t.members.some(function (m) { return m.isViewer && m.userId === tr.toUserId; });
      parts.push(h("div", { class: "alert", id: "transfer" }, T("portal.transfer_pending", { email: tr.toEmail, date: LS.date(tr.expiresAt) }) + " ",
        mine ? h("button", { type: "button", class: "primary small", onclick: function (ev) {
          LS.busy(ev.target, async function () { await gql(Q.acceptTransfer, { input: { applicationId: id } }); location.reload(); }, T("portal.you_own"), { at: status });
        } }, T("portal.accept_ownership")) : null,
        (owner || mine) ? h("button", { type: "button", class: "small", onclick: function (ev) {
          LS.busy(ev.target, async function () { await gql(Q.cancelTransfer, { input: { applicationId: id } }); reload(); }, T("portal.transfer_cancelled"), { at: status });
        } }, owner ? T("portal.cancel_transfer") : T("portal.decline")) : null));
    }
    if (may.team) {
      var email = h("input", { type: "email", id: "invite-email", required: true, autocomplete: "off", placeholder: "colleague@example.com" });
      var role = h("select", { id: "invite-role" }, ROLES.map(function (r) { return h("option", { value: r[0], selected: r[0] === "DEVELOPER" }, r[1]); }));
      var form = h("form", { id: "invite", novalidate: true }, h("div", { class: "grid" }, field(T("portal.invite_by_email"), email), field(T("portal.role_col"), role)),
        h("button", { class: "primary", type: "submit" }, T("portal.send_invitation")));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(form, async function () {
          var d = (await gql(Q.invite, { input: { applicationId: id, email: email.value.trim(), role: role.value } })).inviteMember.invitation;
          email.value = "";
          setTimeout(reload, 1200);
          return d;
        }, function (d) { return T("portal.invitation_sent", { email: d.email }); }, { field: function () { return email; } });
      });
      parts.push(h("h3", null, T("portal.pending_invitations")), table([T("portal.address"), T("portal.role_col"), T("portal.expires"), ""], invs.map(function (i) {
        return h("tr", { "data-invitation": i.email }, h("td", null, i.email), h("td", null, roleName(i.role)), h("td", null, LS.date(i.expiresAt)),
          h("td", null, LS.confirmButton(T("portal.revoke"), T("portal.confirm_revoke"), "small", async function () {
            await gql(Q.revokeInvitation, { input: { applicationId: id, invitationId: i.id } }); reload();
          }, T("portal.invitation_revoked"), { at: status })));
      }), T("portal.no_invitations")), form);
    }
    parts.push(status);
    fill("members", h("div", null, parts));
  }

  // The invitee's page (/portal/invitation?token=…): accepting needs the invited address on
  // the signed-in account; the server refuses any other account. The server names the
  // application and the role (#invitation-summary) and puts the link's token in data-token,
  // only while the invitation is open; forget-link.js takes it out of the address.
  async function invitationView() {
    var token = view.getAttribute("data-token") || "";
    var summary = document.getElementById("invitation-summary");
    var status = h("div", { class: "form-status", id: "invitation-status", "aria-live": "polite" });
    var btn = h("button", { type: "button", class: "primary", id: "accept-invitation" }, T("portal.accept_invitation"));
    btn.addEventListener("click", function () {
      LS.busy(btn, async function () {
        // A sign-in asked again comes back to the link, whose token the address lost.
        var back = location.pathname + "?" + new URLSearchParams({ token: token });
        var d = (await gql(Q.acceptInvitation, { input: { token: token } }, back)).acceptInvitation;
        fill(status, h("span", null, T("portal.you_joined", { app: d.application.name, role: roleName(d.role) }) + " ",
          h("a", { href: "/portal/apps/" + encodeURIComponent(d.application.id), id: "open-app" }, T("portal.open_app"))));
        btn.disabled = true;
        return d;
      }, null, { at: status });
    });
    if (token) {
      fill(view, card(T("portal.join_team"), "invitation", summary, h("p", null, T("portal.join_team_lead")), btn, status));
      return;
    }
    var invs;
    try { invs = (await gql(Q.myInvitations)).viewer.teamInvitations; } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    fill(view, card(T("portal.join_team"), "invitation", h("p", null, T("portal.join_team_lead")),
      invs.length || document.getElementById("invitation-closed") ? myInvitationsTable(invs, status) : h("div", { class: "alert error" }, T("portal.no_token")), status));
  }

  // The invitations waiting for the signed-in person's verified addresses
  // (viewer.teamInvitations), each accepted by its id. An invitation's mail may have been
  // withheld (an address receives a few invitation mails a day from all applications
  // together), so the portal is where the person finds it: on the overview, and on the
  // invitation page opened without a link.
  function myInvitationsTable(invs, status) {
    return table([T("portal.name"), T("portal.role_col"), T("portal.expires"), ""], invs.map(function (i) {
      var btn = h("button", { type: "button", class: "primary" }, T("portal.accept_invitation"));
      btn.addEventListener("click", function () {
        LS.busy(btn, async function () {
          return (await gql(Q.acceptInvitation, { input: { invitationId: i.id } })).acceptInvitation;
        }, function (d) {
          btn.disabled = true;
          return T("portal.you_joined", { app: d.application.name, role: roleName(d.role) });
        }, { at: status });
      });
      return h("tr", { "data-my-invitation": i.id }, h("td", null, i.applicationName), h("td", null, roleName(i.role)),
        h("td", null, LS.date(i.expiresAt)), h("td", null, btn));
    }), T("portal.no_invitations"));
  }

  // The application's activity log (developer actions and its users' sign-ins and consents).
  var ACTIVITY_Q = "query AppActivity($id: ID!) { application(id: $id) { id activity(first: 50) { events { id type actor connectionId details { key value } at } } } }";
  async function loadAppActivity(id) {
    var d;
    try { d = (await gql(ACTIVITY_Q, { id: id })).application.activity; } catch (e) { failed("app-activity", e); return; }
    if (!d.events.length) { fill("app-activity", h("p", { class: "empty" }, T("portal.nothing_yet_short"))); return; }
    fill("app-activity", table([T("portal.when"), T("portal.what"), T("portal.by"), T("portal.details")], d.events.map(function (ev) {
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
    var search = h("input", { type: "search", id: "user-search", placeholder: T("portal.user_search_placeholder") });
    var fStatus = h("select", { id: "filter-status" }, [["", T("portal.any")], ["active", T("portal.active")], ["inactive", T("portal.inactive")], ["blocked", T("portal.blocked")]].map(function (o) { return h("option", { value: o[0] }, o[1]); }));
    var fMail = h("select", { id: "filter-mail" }, [["", T("portal.any")], ["muted", T("portal.not_delivered")], ["delivered", T("portal.delivered")]].map(function (o) { return h("option", { value: o[0] }, o[1]); }));
    var fRegion = h("input", { type: "text", id: "filter-region", placeholder: T("portal.region_placeholder"), autocomplete: "off" });
    var fJoinedAfter = h("input", { type: "date", id: "filter-joined-after" });
    var fJoinedBefore = h("input", { type: "date", id: "filter-joined-before" });
    var fSeenAfter = h("input", { type: "date", id: "filter-seen-after" });
    var pager = h("div", { class: "pager" });
    var listStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var cursors = [null];
    var pageNo = 0;
    var form = h("form", { id: "user-filters", role: "search", novalidate: true },
      h("div", { class: "row" }, h("label", { class: "visually-hidden", for: "user-search" }, T("portal.search_users")), search, h("button", { type: "submit" }, T("portal.search"))),
      h("details", { class: "filters" }, h("summary", null, T("portal.more_filters")),
        h("div", { class: "grid filters-grid" }, field(T("portal.status"), fStatus), field(T("portal.relay_mail"), fMail), field(T("portal.region"), fRegion),
          field(T("portal.joined_after"), fJoinedAfter), field(T("portal.joined_before"), fJoinedBefore), field(T("portal.seen_after"), fSeenAfter)),
        h("button", { type: "reset", class: "small" }, T("portal.clear_filters"))));
    form.addEventListener("submit", function (ev) { ev.preventDefault(); cursors = [null]; pageNo = 0; load(); });
    form.addEventListener("reset", function () { setTimeout(function () { cursors = [null]; pageNo = 0; load(); }); });
    [fStatus, fMail].forEach(function (c) { c.addEventListener("change", function () { cursors = [null]; pageNo = 0; load(); }); });
    // The export is fetched, then saved (LS.download), not a plain link: it needs a recent
    // sign-in (portal.Service.ExportUsers), and a refusal must send the developer to sign in
    // again, as every other such action does, or show why (the hourly limit) next to the
    // button, rather than save the error as the file. It holds the users the filters choose,
    // as the list shows them (exportQuery).
    var exportStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var exportButton = h("button", { type: "button", class: "small", id: "export-users" }, T("portal.export_csv"));
    exportButton.addEventListener("click", function () {
      LS.busy(exportButton, function () {
        return LS.download("/api/developer/applications/" + encodeURIComponent(id) + "/users/export" + exportQuery(), "users-" + id + ".csv");
      }, null, { at: exportStatus });
    });
    fill(view, card(T("portal.connected_users"), "users", form, h("div", { class: "small muted", "data-slot": "user-count", "aria-live": "polite" }), listStatus, slot("users-table"), pager),
      h("p", { class: "muted" }, T("portal.bring_before"), h("a", { href: "/portal/synchronisation?app=" + encodeURIComponent(id) + "#import-existing-users" }, T("portal.bring_link")), T("portal.bring_after"),
        exportButton), exportStatus);

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
    // exportQuery is filter() as the REST export's query string (rest.parseUserPage: q for
    // the search, the rest by the same names), "" without filters.
    function exportQuery() {
      var f = filter() || {}, q = new URLSearchParams();
      Object.keys(f).forEach(function (k) { q.set(k === "search" ? "q" : k, String(f[k])); });
      var s = q.toString();
      return s ? "?" + s : "";
    }

    // editor opens below a user's row: the developer's own record of the address (appEmail),
    // and a request that the person change their LoginSign address (they must confirm it).
    function editor(u, tr) {
      var next = tr.nextElementSibling;
      if (next && next.classList.contains("editor-row")) { next.remove(); return; }
      var rec = h("input", { type: "email", id: "app-email-" + u.id, value: u.developerEmail || "", autocomplete: "off" });
      var recForm = h("form", { class: "stack", novalidate: true }, field(T("portal.app_email"), rec,
        T("portal.app_email_hint")), h("button", { type: "submit" }, T("portal.save_record")));
      recForm.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(recForm, async function () {
          var d = (await gql(Q.updateDevEmail, { app: id, id: u.id, appEmail: rec.value.trim() })).editAppConnection.connection;
          u.developerEmail = d.developerEmail;
          fill(tr.cells[2], emailCell(u));
        }, function () { return rec.value.trim() ? T("portal.saved") : T("portal.cleared"); });
      });
      var ask = h("input", { type: "email", id: "sync-email-" + u.id, required: true, autocomplete: "off" });
      var askForm = h("form", { class: "stack", novalidate: true }, field(T("portal.ask_new_address"), ask,
        T("portal.ask_new_address_hint")),
        h("button", { type: "submit" }, T("portal.send_request")));
      askForm.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(askForm, async function () {
          return (await gql(Q.syncEmail, { app: id, id: u.id, email: ask.value.trim() })).proposeConnectionEmail;
        }, function (r) { return r.pending ? T("portal.request_sent") : T("portal.already_address"); });
      });
      var row = h("tr", { class: "editor-row" }, h("td", { colspan: tr.cells.length }, h("div", { class: "grid editor" }, recForm, askForm)));
      tr.insertAdjacentElement("afterend", row);
      rec.focus();
    }

    function emailCell(u) {
      return [u.email && u.email !== "-" ? u.email : "—", u.developerEmail ? h("div", { class: "small muted" }, T("portal.your_record", { email: u.developerEmail })) : null];
    }

    async function load() {
      var d;
      try { d = (await gql(Q.users, { id: id, filter: filter(), first: 25, after: cursors[pageNo] })).application.users; }
      catch (e) { failed("users-table", e); return; }
      fill("user-count", T("portal.user_count", { count: d.totalCount }));
      fill("users-table", table([T("portal.global_id"), T("portal.name"), T("portal.email"), T("portal.status"), T("portal.signins"), T("portal.last_signin"), T("portal.region"), ""], LS.edges(d).map(function (u) {
        var tr = h("tr", { "data-user": u.globalId }, h("td", null, h("code", null, u.globalId)), h("td", null, u.name || "—"),
          h("td", { "data-email": "" }, emailCell(u)),
          h("td", null, u.blocked ? h("span", { class: "badge danger" }, T("portal.badge_blocked")) : u.active ? h("span", { class: "badge ok" }, T("portal.badge_active")) : h("span", { class: "badge" }, T("portal.badge_inactive")),
            u.emailMuted ? h("span", { class: "badge warn" }, T("portal.badge_muted")) : null),
          h("td", null, LS.num(u.loginCount)), h("td", null, LS.dateTime(u.lastSessionAt)), h("td", null, u.region || "—"),
          h("td", null, h("div", { class: "row" },
            h("button", { type: "button", class: "small", "aria-expanded": "false", onclick: function (ev) { editor(u, tr); ev.target.setAttribute("aria-expanded", String(!!(tr.nextElementSibling && tr.nextElementSibling.classList.contains("editor-row")))); } }, T("portal.email_button")),
            h("button", { type: "button", class: "small", onclick: function (ev) { LS.busy(ev.target, async function () { await gql(Q.updateUser, { app: id, id: u.id, isForwarding: !u.isForwarding }); await load(); }, u.isForwarding ? T("portal.forward_stopped", { id: u.globalId }) : T("portal.forward_again", { id: u.globalId }), { at: listStatus }); } }, u.isForwarding ? T("portal.stop_forwarding") : T("portal.forward_mail")),
            LS.confirmButton(T("portal.delete"), T("portal.confirm_delete"), "small", async function () { await gql(Q.deleteUser, { app: id, id: u.id }); await load(); }, T("portal.connection_deleted"), { at: listStatus }))));
        return tr;
      }), filter() ? T("portal.no_user_matches") : T("portal.no_one_connected")));
      fill(pager,
        h("button", { type: "button", class: "small", disabled: pageNo === 0, onclick: function () { pageNo--; load(); } }, T("portal.previous")),
        h("span", { class: "small muted" }, T("portal.page", { n: pageNo + 1 })),
        h("button", { type: "button", class: "small", disabled: !d.pageInfo.hasNextPage, onclick: function () { cursors[pageNo + 1] = d.pageInfo.endCursor; pageNo++; load(); } }, T("portal.next")));
    }
    load();
  }

  // ---- Licenses -------------------------------------------------------------------------------

  var DURATIONS = [["LIFETIME", T("portal.duration_lifetime")], ["MONTH", T("portal.duration_month")], ["YEAR", T("portal.duration_year")]];
  function durationName(d) { var k = "portal.duration_name_" + String(d).toLowerCase(); return LS.has(k) ? T(k) : String(d).toLowerCase(); }
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
    var vForm = h("form", { id: "variant-form", novalidate: true }, h("h3", null, T("portal.new_variant")), h("div", { class: "grid" }, field(T("portal.name"), vName), field(T("portal.description"), vDesc), field(T("portal.duration"), vDur)),
      h("button", { type: "submit" }, T("portal.add_variant")));
    vForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = vName.value.trim();
      LS.busy(vForm, async function () { await gql(Q.createVariant, { id: id, name: name, description: vDesc.value.trim() || null, duration: vDur.value }); vForm.reset(); await loadVariants(); },
        function () { return T("portal.added", { name: name }); }, { field: vName });
    });

    var gVariant = h("select", { id: "generate-variant" });
    var gCount = h("input", { type: "number", min: 1, max: 10000, value: 10, id: "generate-count", required: true });
    var gOut = h("div", { class: "result" });
    var gForm = h("form", { id: "generate-form", novalidate: true }, h("div", { class: "grid" }, field(T("portal.variant"), gVariant), field(T("portal.how_many"), gCount, T("portal.range", { min: 1, max: 10000 }))),
      h("button", { class: "primary", type: "submit" }, T("portal.generate_codes")), gOut);
    gForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fill(gOut);
      LS.busy(gForm, async function () {
        var n = Number(gCount.value);
        if (!gVariant.value) throw LS.invalid(gVariant, T("portal.add_variant_first"));
        if (!Number.isInteger(n) || n < 1 || n > 10000) throw LS.invalid(gCount, T("portal.whole_number", { min: 1, max: 10000 }));
        var d = (await gql(Q.generate, { id: id, variantId: gVariant.value, count: n })).generateLicenseCodes;
        var codes = h("textarea", { readonly: true, id: "generated-codes", rows: 4 }, (d.codes || []).join("\n"));
        fill(gOut, h("div", { class: "field" }, h("label", { for: "generated-codes" }, T("portal.generated_codes")), codes), LS.copyButton(codes, T("portal.copy_codes")));
        await Promise.all([loadVariants(), loadCodes()]);
        return d.codes.length;
      }, function (n) { return T("portal.codes_generated", { count: n }); }, { field: gCount });
    });

    var uVariant = h("select", { id: "upload-variant" });
    var uCodes = h("textarea", { id: "upload-codes", rows: 4, placeholder: T("portal.one_code_per_line"), required: true });
    var uOut = h("div", { class: "result" });
    var uForm = h("form", { id: "upload-form", novalidate: true }, field(T("portal.variant"), uVariant), field(T("portal.codes"), uCodes, T("portal.codes_hint")), h("button", { type: "submit" }, T("portal.upload_codes")), uOut);
    uForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fill(uOut);
      LS.busy(uForm, async function () {
        if (!uVariant.value) throw LS.invalid(uVariant, T("portal.add_variant_first"));
        var d = (await gql(Q.upload, { id: id, variantId: uVariant.value, codes: lines(uCodes.value) })).uploadLicenseCodes;
        fill(uOut, h("div", { class: "alert " + (d.invalid.length ? "warn" : "ok"), role: "status" }, T("portal.upload_result", { added: d.created, duplicates: T("portal.duplicate_count", { count: d.duplicates.length }), invalid: d.invalid.length })),
          d.invalid.length ? h("ul", null, d.invalid.map(function (r) { return h("li", null, T("portal.invalid_line", { line: String(r.line), code: r.code, reason: r.reason })); })) : null);
        if (!d.invalid.length) uCodes.value = "";
        await Promise.all([loadVariants(), loadCodes()]);
      }, null, { field: uCodes });
    });

    var cSearch = h("input", { type: "search", id: "code-search", placeholder: T("portal.code_search_placeholder") });
    var cForm = h("form", { class: "row", role: "search" }, h("label", { class: "visually-hidden", for: "code-search" }, T("portal.search_codes")), cSearch, h("button", { type: "submit" }, T("portal.search")));
    var cPager = h("div", { class: "pager" });
    var codeStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var variantStatus = h("div", { class: "form-status", "aria-live": "polite" });
    var cursors = [null], pageNo = 0;
    cForm.addEventListener("submit", function (ev) { ev.preventDefault(); cursors = [null]; pageNo = 0; loadCodes(); });

    fill(view, card(T("portal.variants"), "variants", variantStatus, slot("variants"), vForm),
      h("div", { class: "grid" }, card(T("portal.generate"), "generate", gForm), card(T("portal.upload"), "upload", uForm)),
      card(T("portal.codes"), "codes", cForm, h("div", { class: "small muted", "data-slot": "code-count" }), codeStatus, slot("codes-table"), cPager));

    function variantEditor(v, li) {
      var name = h("input", { type: "text", required: true, id: "edit-name-" + v.id, value: v.name, autocomplete: "off" });
      var desc = h("input", { type: "text", id: "edit-description-" + v.id, value: v.description || "", autocomplete: "off" });
      var dur = durationSelect("edit-duration-" + v.id, v.duration);
      var f = h("form", { class: "variant-edit", novalidate: true, "data-edit-variant": v.name },
        h("div", { class: "grid" }, field(T("portal.name"), name), field(T("portal.description"), desc), field(T("portal.duration"), dur, T("portal.duration_hint"))),
        h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, T("portal.save_variant")), h("button", { type: "button", onclick: function () { loadVariants(); } }, T("portal.cancel"))));
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        LS.busy(f, async function () {
          await gql(Q.updateVariant, { app: id, id: v.id, name: name.value.trim(), description: desc.value.trim(), duration: dur.value });
          await Promise.all([loadVariants(), loadCodes()]);
          return name.value.trim();
        }, function (n) { return T("portal.name_saved", { name: n }); }, { field: name, at: variantStatus });
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
        var m = LS.report(variantStatus, n ? T("portal.variant_has_active", { name: v.name, count: n }) : T("portal.variant_has_active_some", { name: v.name }), "warn");
        m.setAttribute("role", "alert");
        m.append(" " + T("portal.deleting_ends", { name: v.name }) + " ",
          LS.confirmButton(T("portal.delete_variant_codes", { name: v.name }), T("portal.confirm_end_licenses"), "small", function () { return deleteVariant(v, true); },
            T("portal.variant_codes_deleted", { name: v.name }), { at: variantStatus }));
        return false;
      }
      await Promise.all([loadVariants(), loadCodes()]);
      return true;
    }

    async function loadVariants() {
      try { variants = (await gql(Q.variants, { id: id })).application.licenseVariants || []; } catch (e) { failed("variants", e); return; }
      fill("variants", variants.length ? h("ul", { class: "list" }, variants.map(function (v) {
        var c = v.codeCounts || { unused: 0, active: 0, expired: 0 };
        var li = h("li", { "data-variant": v.name }, h("div", { class: "grow" }, h("strong", null, v.name), " ", h("span", { class: "badge" }, durationName(v.duration)), v.description ? h("div", { class: "small muted" }, v.description) : null),
          h("span", { class: "small muted", "data-counts": "" }, T("portal.variant_counts", { unused: c.unused, active: c.active, expired: c.expired })),
          h("div", { class: "row" },
            h("button", { type: "button", class: "small", onclick: function () { variantEditor(v, li); } }, T("portal.edit")),
            LS.confirmButton(T("portal.delete"), T("portal.confirm_delete"), "small", function () { return deleteVariant(v, false); },
              function (done) { return done ? T("portal.was_deleted", { what: v.name }) : null; }, { at: variantStatus })));
        return li;
      })) : h("p", { class: "empty" }, T("portal.no_variants")));
      [gVariant, uVariant].forEach(function (sel) {
        var was = sel.value;
        fill(sel, variants.map(function (v) { return h("option", { value: v.id, selected: v.id === was }, v.name); }));
      });
    }
    async function loadCodes() {
      var d;
      try { d = (await gql(Q.codes, { id: id, q: cSearch.value.trim() || null, first: 50, after: cursors[pageNo] })).application.licenseCodes; } catch (e) { failed("codes-table", e); return; }
      fill("code-count", T("portal.code_count", { count: d.totalCount }));
      fill("codes-table", table([T("portal.code"), T("portal.variant"), T("portal.state"), T("portal.owner"), T("portal.activated"), T("portal.expires"), ""], LS.edges(d).map(function (c) {
        return h("tr", { "data-code": c.code }, h("td", null, h("code", null, c.code)), h("td", null, c.variant ? c.variant.name : "—"),
          h("td", null, h("span", { class: "badge " + (c.state === "ACTIVE" ? "ok" : "") }, T("portal.state_" + String(c.state).toLowerCase()))),
          h("td", null, c.owner ? [h("code", null, c.owner.globalId), " ", c.owner.email || ""] : "—"),
          h("td", null, LS.date(c.activatedAt)), h("td", null, c.expiresAt ? LS.date(c.expiresAt) : c.state === "ACTIVE" ? T("portal.never") : "—"),
          h("td", null, c.owner ? h("span", { class: "small muted" }, T("portal.in_use")) : LS.confirmButton(T("portal.delete"), T("portal.confirm"), "small", async function () { await gql(Q.deleteCode, { app: id, id: c.id }); await Promise.all([loadVariants(), loadCodes()]); }, T("portal.was_deleted", { what: c.code }), { at: codeStatus })));
      }), cSearch.value.trim() ? T("portal.no_code_matches") : T("portal.no_codes")));
      fill(cPager,
        h("button", { type: "button", class: "small", disabled: pageNo === 0, onclick: function () { pageNo--; loadCodes(); } }, T("portal.previous")),
        h("span", { class: "small muted" }, T("portal.page", { n: pageNo + 1 })),
        h("button", { type: "button", class: "small", disabled: !d.pageInfo.hasNextPage, onclick: function () { cursors[pageNo + 1] = d.pageInfo.endCursor; pageNo++; loadCodes(); } }, T("portal.next")));
    }
    loadVariants();
    loadCodes();
  }

  // ---- Synchronisation ------------------------------------------------------------------------

  function deliveryName(s) { var k = "portal.delivery_" + String(s).toLowerCase(); return LS.has(k) ? T(k) : String(s).toLowerCase(); }
  function importStatusName(s) { var k = "portal.row_status_" + String(s).toLowerCase(); return LS.has(k) ? T(k) : String(s).toLowerCase().replace("_", " "); }

  async function syncView() {
    try { await loadApps(); } catch (e) { fill(view, h("div", { class: "alert error" }, e.message)); return; }
    if (!apps.length) { noApps(); return; }
    var id = picker();
    var results = h("div", { class: "stack", id: "sync-results", "aria-live": "polite" });
    function describe(r) {
      var ok = r.ok ? T("portal.test_ok") : T("portal.test_failed");
      if (r.endpoint !== undefined && r.total !== undefined) return ok + " · " + r.endpoint + " · " + r.auth + " · " + T("portal.current_login_count", { count: r.total });
      if (r.endpoint !== undefined) return ok + " · " + r.endpoint + " · " + (r.webhookConfigured ? T("portal.webhook_events", { events: r.events.join(", ") }) : T("portal.no_webhook_url"));
      return deliveryName(r.status) + (r.lastStatusCode ? " · HTTP " + r.lastStatusCode : "") + (r.lastError ? " · " + r.lastError : "");
    }
    function test(label, q, key, after) {
      return h("button", { type: "button", onclick: function (ev) {
        LS.busy(ev.target, async function () {
          var r = (await gql(q, { id: id }))[key].result;
          fill(results, h("div", { class: "alert " + (r.ok === false || r.status === "FAILED" ? "error" : "ok"), role: "status" }, T("portal.test_result", { test: label, result: describe(r) })));
          if (after) after(r);
        }, null, { at: results });
      } }, label);
    }

    var csv = h("textarea", { id: "import-csv", rows: 5, placeholder: "externalUserId,email,name\n42,ann@example.com,Ann" });
    var file = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv,text/plain" });
    // read is the chosen file and its text as the rows field holds it (a text field reads every
    // line end as "\n"): while the field holds that text, the file itself is sent (its bytes and
    // name, which names the run unless the import is named); once edited, the field's text is.
    var read = null;
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      read = null;
      if (!f) return;
      LS.clearFieldError(file);
      if (f.size > 5 * 1024 * 1024) { LS.fieldError(file, T("portal.file_too_large")); return; }
      fileText(f).then(function (t) { csv.value = t; read = { file: f, text: csv.value }; LS.report(LS.statusFor(file.closest(".field")), T("portal.file_read", { file: f.name, rows: T("portal.row_count", { count: csvRows(t) }) }), "ok", false); },
        function () { LS.fieldError(file, T("portal.file_unreadable")); });
    });
    var impName = h("input", { type: "text", id: "import-name", placeholder: T("portal.import_name_placeholder"), autocomplete: "off" });
    var impOut = h("div", { id: "import-results", class: "result" });
    var imp = h("form", { id: "import-form", novalidate: true }, field(T("portal.import_name"), impName),
      field(T("portal.csv_file"), file, T("portal.csv_file_hint")),
      field(T("portal.csv_rows"), csv, T("portal.csv_rows_hint")),
      h("button", { class: "primary", type: "submit" }, T("portal.import")), impOut);
    imp.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fill(impOut);
      LS.busy(imp, async function () {
        if (!csv.value.trim()) throw LS.invalid(csv, T("portal.csv_empty"));
        // The server reads the CSV (POST …/import-existing-users/csv, multipart), as it reads
        // every upload: a comma or a semicolon, a header row or none, user_id or id.
        var body = new FormData();
        if (impName.value.trim()) body.append("sourceName", impName.value.trim());
        if (read && read.text === csv.value) body.append("file", read.file, read.file.name);
        else body.append("file", csv.value);
        var d = await LS.post("/api/developer/applications/" + encodeURIComponent(id) + "/import-existing-users/csv", body);
        var c = d.counts;
        fill(impOut, h("div", { class: "alert ok", role: "status", tabindex: "-1" }, T("portal.import_result", { rows: T("portal.row_count", { count: d.total }), imported: c.imported, already: c.already_connected, invalid: c.invalid_row })),
          h("p", { class: "muted small" }, T("portal.import_lead")),
          table([T("portal.row"), T("portal.external_id"), T("portal.email"), T("portal.result"), T("portal.message")], d.results.map(function (r) {
            return h("tr", null, h("td", null, String(r.row)), h("td", null, r.externalUserId || "—"), h("td", null, r.email || "—"),
              h("td", null, h("span", { class: "badge " + (r.status === "imported" ? "ok" : r.status === "already_connected" ? "" : "warn") }, r.status === "imported" ? T("portal.proposed") : importStatusName(r.status))),
              h("td", null, r.message || ""));
          })),
          rollbackButton({ id: d.sourceId }, T("portal.roll_back_this")));
        impOut.querySelector(".alert").focus();
        csv.value = "";
        file.value = "";
        read = null;
        loadImports();
      }, null, { field: function (e) { return /csv|row|header/i.test(e.message) ? csv : null; } });
    });

    function rollbackButton(src, label) {
      return LS.confirmButton(label || T("portal.roll_back"), T("portal.confirm_roll_back"), "small", async function () {
        var rb = (await gql(Q.rollback, { app: id, id: src.id })).rollbackImport;
        await loadImports();
        return rb;
      }, function (rb) { return T("portal.rolled_back", { proposals: T("portal.proposal_count", { count: rb.withdrawnLinks }), connections: T("portal.connection_count", { count: rb.deletedConnections }) }); },
      { at: importsStatus });
    }

    var importsStatus = h("div", { class: "form-status", id: "imports-status", "aria-live": "polite" });
    var deliveriesStatus = h("div", { class: "form-status", "aria-live": "polite" });
    fill(view,
      card(T("portal.test_endpoints"), "sync-tests", h("p", { class: "muted" }, T("portal.test_endpoints_lead")),
        h("div", { class: "row" }, test(T("portal.test_email_sync"), Q.testEmailSync, "testEmailSyncApi"), test(T("portal.test_current_logins"), Q.testLogins, "testCurrentLoginsSyncApi"),
          test(T("portal.send_test_webhook"), Q.testWebhook, "sendTestWebhook", function () { watchDeliveries(); })), results,
        h("p", { class: "small muted" }, T("portal.email_sync_note_1"), h("strong", null, T("portal.email_button")), T("portal.email_sync_note_2"), h("a", { href: "/portal/users?app=" + encodeURIComponent(id) }, T("portal.users")), T("portal.email_sync_note_3"))),
      card(T("portal.webhook_deliveries"), "deliveries", h("div", { class: "row spread" }, h("p", { class: "small muted" }, T("portal.deliveries_lead")),
        h("button", { type: "button", class: "small", onclick: function (ev) { LS.busy(ev.target, loadDeliveries, null, { at: deliveriesStatus }); } }, T("portal.refresh"))), deliveriesStatus, slot("deliveries")),
      card(T("portal.import_existing"), "import-existing-users", imp),
      card(T("portal.past_imports"), "past-imports", importsStatus, slot("imports")));
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
      fill("deliveries", table([T("portal.event"), T("portal.status"), T("portal.attempts"), T("portal.last_answer"), T("portal.created_col"), ""], evs.map(function (ev) {
        var st = String(ev.status).toLowerCase();
        return h("tr", { "data-event": ev.type, "data-status": st }, h("td", null, h("code", null, ev.type)),
          h("td", null, h("span", { class: "badge " + (st === "delivered" ? "ok" : st === "pending" ? "warn" : "danger") }, deliveryName(st))),
          h("td", null, LS.num(ev.attempts)), h("td", null, ev.lastStatusCode ? "HTTP " + ev.lastStatusCode : ev.lastError || "—"),
          h("td", null, LS.dateTime(ev.createdAt)),
          h("td", null, h("button", { type: "button", class: "small", onclick: function (e2) { LS.busy(e2.target, async function () { await gql(Q.redeliver, { app: id, id: ev.id }); watchDeliveries(); }, T("portal.resent"), { at: deliveriesStatus }); } }, T("portal.redeliver"))));
      }), T("portal.no_deliveries")));
      return evs;
    }

    async function loadImports() {
      var d;
      try { d = (await gql(Q.imports, { id: id })).application.importSources; } catch (e) { failed("imports", e); return; }
      fill("imports", table([T("portal.import_col"), T("portal.rows"), T("portal.proposed_col"), T("portal.already_connected"), T("portal.invalid_col"), T("portal.when"), ""], LS.edges(d).map(function (src) {
        var c = src.counts;
        return h("tr", { "data-import": src.name }, h("td", null, src.name, src.kind ? h("div", { class: "small muted" }, String(src.kind).toLowerCase()) : null),
          h("td", null, LS.num(src.total)), h("td", null, LS.num(c.imported)), h("td", null, LS.num(c.alreadyConnected)), h("td", null, LS.num(c.invalidRow)),
          h("td", null, LS.dateTime(src.createdAt)),
          h("td", null, src.rolledBackAt ? h("span", { class: "badge" }, T("portal.rolled_back_on", { date: LS.date(src.rolledBackAt) })) : rollbackButton(src)));
      }), T("portal.no_imports")));
    }
  }

  var VIEWS = { invitation: invitationView, overview: overviewView, apps: appsView, app: appView, users: usersView, licenses: licensesView, synchronisation: syncView };
  (VIEWS[kind] || overviewView)();
})();

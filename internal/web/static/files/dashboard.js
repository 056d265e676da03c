// dashboard.js fills /dashboard from /graphql. Each card loads on its own, so a card whose
// API is unavailable shows its error without blanking the others.
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql, t = LS.t;

  // The GraphQL operations this page runs, in one place.
  var Q = {
    apps: "query DashboardApps { viewer { id connections(first: 50) { edges { node { id aliasEmail appEmail isForwarding emailMuted loginCount lastSessionAt joinedAt application { id name website } consent { scopes } licenses(first: 10) { edges { node { id code state activatedAt expiresAt variant { name } } } } } } } } }",
    addresses: "query DashboardAddresses { viewer { id email twoStep { enabled } emails(first: 50) { edges { node { id email verifiedAt } } } } }",
    sessions: "query DashboardSessions { viewer { id sessions { id createdAt lastSeen userAgent current signInMethods } } }",
    mute: "mutation SetAppEmailMuted($id: ID!, $muted: Boolean!) { setAppEmailMuted(input: { connectionId: $id, muted: $muted }) { connection { id emailMuted } } }",
    remove: "mutation DisconnectApp($id: ID!) { disconnectApp(input: { connectionId: $id }) { deletedConnectionId } }",
    redeem: "mutation ClaimLicenseCode($applicationId: ID!, $code: String!) { claimLicenseCode(input: { applicationId: $applicationId, code: $code }) { licenseCode { id state expiresAt } } }",
    addEmail: "mutation AddEmail($email: String!, $code: String) { addEmail(input: { email: $email, code: $code }) { userEmail { id email verifiedAt } } }",
    removeEmail: "mutation RemoveEmail($id: ID!, $code: String) { removeEmail(input: { emailId: $id, code: $code }) { deletedEmailId } }",
    makePrimary: "mutation SetPrimaryEmail($id: ID!, $code: String) { setPrimaryEmail(input: { emailId: $id, code: $code }) { user { id email } } }",
    // The apps shown the primary address: they follow a new primary, so the button names them.
    primaryFollowers: "query DashboardPrimaryFollowers($email: String!) { viewer { id connections(first: 100, where: { appEmail: $email }) { totalCount edges { node { id application { id name } } } } } }",
    signOutOthers: "mutation RevokeOtherSessions { revokeOtherSessions(input: {}) { revokedSessions } }",
    signOut: "mutation RevokeSession($id: ID!) { revokeSession(input: { sessionId: $id }) { revokedSessionId } }",
    deleteAccount: "mutation CloseAccount($confirm: String!, $code: String) { closeAccount(input: { confirmGlobalId: $confirm, code: $code }) { endedConnections } }",
    pendingLinks: "query DashboardPendingLinks { viewer { id pendingLinks { id applicationName externalUserId email proposedAt } } }",
    refuseLink: "mutation RefusePendingLink($id: ID!) { refusePendingLink(input: {id: $id}) { refusedId } }",
    profile: "query DashboardProfile { viewer { id email profile { name pictureUrl region regionName suggestedRegion regionChoices { code name } } } }",
    updateProfile: "mutation UpdateProfile($name: String, $region: String) { updateProfile(input: {name: $name, region: $region}) { profile { name pictureUrl region regionName } } }",
    removePicture: "mutation RemoveProfilePicture { removeProfilePicture(input: {}) { profile { name pictureUrl region regionName } } }",
    setLanguage: "mutation SetLanguage($language: String) { setLanguage(input: {language: $language}) { language } }"
  };


  var SCOPE_TEXT = {
    openid: t("dashboard.scope_openid", { id: document.getElementById("global-id").textContent }),
    profile: t("dashboard.scope_profile"),
    email: t("dashboard.scope_email")
  };

  // The profile card: name and region through updateProfile; the picture is uploaded as the
  // raw file with PUT /api/profile/picture (same rule as setProfilePicture) and removed with
  // removeProfilePicture.
  var viewerEmail = "";
  function showPicture(p) {
    var img = document.getElementById("profile-picture"), none = document.getElementById("profile-no-picture");
    img.hidden = !p.pictureUrl;
    none.hidden = !!p.pictureUrl;
    if (p.pictureUrl) img.src = p.pictureUrl;
    none.textContent = LS.initial(p.name || viewerEmail);
    document.getElementById("profile-picture-remove").hidden = !p.pictureUrl;
  }

  async function loadProfile() {
    var data;
    try { data = await gql(Q.profile); } catch (e) { LS.say(e.message, "error"); return; }
    viewerEmail = data.viewer.email;
    var p = data.viewer.profile, f = document.getElementById("profile-form");
    f.name.value = p.name || "";
    var sel = document.getElementById("profile-region");
    fill(sel, [h("option", { value: "" }, t("dashboard.not_set"))].concat(p.regionChoices.map(function (r) {
      return h("option", { value: r.code }, r.name);
    })));
    var hint = document.getElementById("profile-region-hint");
    if (p.region) {
      sel.value = p.region;
      hint.hidden = true;
    } else if (p.suggestedRegion) {
      sel.value = p.suggestedRegion;
      hint.textContent = t("dashboard.region_suggested");
      hint.hidden = false;
    }
    showPicture(p);
  }

  document.getElementById("profile-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      var d = await gql(Q.updateProfile, { name: f.name.value.trim(), region: f.region.value });
      document.getElementById("profile-region-hint").hidden = true;
      showPicture(d.updateProfile.profile);
    }, t("dashboard.profile_saved"));
  });

  document.getElementById("profile-picture-file").addEventListener("change", function (ev) {
    var input = ev.target, file = input.files[0];
    if (!file) return;
    LS.busy(input, async function () {
      if (file.size > 512 * 1024) throw new Error(t("dashboard.picture_too_large"));
      var res = await fetch("/api/profile/picture", { method: "PUT", body: file, credentials: "same-origin",
        headers: { "Content-Type": file.type || "application/octet-stream" } });
      var body = await res.json().catch(function () { return {}; });
      input.value = "";
      if (!res.ok) throw new Error(LS.errorMessage(body.error, body.message) || t("dashboard.picture_failed"));
      showPicture(body);
    }, t("dashboard.picture_saved"));
  });

  document.getElementById("profile-picture-remove").addEventListener("click", function (ev) {
    LS.busy(ev.target, async function () {
      var d = await gql(Q.removePicture);
      showPicture(d.removeProfilePicture.profile);
    }, t("dashboard.picture_removed"));
  });

  function failed(slot, e) {
    fill(slot, h("div", { class: "alert error", role: "alert" }, e.message));
  }

  async function loadApps() {
    var data;
    try { data = await gql(Q.apps); } catch (e) { failed("apps", e); failed("licenses", e); return; }
    var conns = LS.edges(data.viewer.connections);
    renderApps(conns);
    renderLicenses(conns);
  }

  function renderApps(conns) {
    if (!conns.length) { fill("apps", h("p", { class: "empty" }, t("dashboard.no_apps"))); return; }
    fill("apps", h("ul", { class: "list" }, conns.map(function (c) {
      var sees = (c.consent ? c.consent.scopes : []).map(function (s) {
        if (s === "email") return t("dashboard.sees_email", { address: c.appEmail || c.aliasEmail });
        return SCOPE_TEXT[s] || s;
      });
      var mute = h("input", { type: "checkbox", id: "mute-" + c.id, checked: c.emailMuted });
      mute.addEventListener("change", function () {
        LS.busy(mute, function () { return gql(Q.mute, { id: c.id, muted: mute.checked }); },
          t(mute.checked ? "dashboard.muted" : "dashboard.unmuted", { app: c.application.name }));
      });
      return h("li", { "data-connection": c.id },
        LS.icon({ name: c.application.name }), // the initial: an icon URL would tell its developer of every visit
        h("div", { class: "grow" },
          h("strong", null, c.application.name),
          h("div", { class: "small muted" }, t("dashboard.app_stats", { last: LS.dateTime(c.lastSessionAt), signins: t("dashboard.sign_ins", { count: c.loginCount || 0 }), since: LS.date(c.joinedAt) })),
          h("div", { class: "small" }, t("dashboard.sees", { what: sees.length ? sees.join(" · ") : t("dashboard.sees_id") })),
          h("label", { class: "choice small", for: "mute-" + c.id }, mute, t("dashboard.mute"))),
        LS.confirmButton(t("dashboard.remove"), t("dashboard.confirm_removal"), "small", async function () {
          await gql(Q.remove, { id: c.id });
          LS.say(t("dashboard.app_removed", { app: c.application.name }), "ok");
          loadApps();
        }));
    })));
  }

  function stateBadge(state) {
    var cls = { ACTIVE: "ok", EXPIRED: "warn", UNUSED: "" }[state] || "";
    var key = "dashboard.state_" + String(state).toLowerCase();
    return h("span", { class: "badge " + cls }, LS.has(key) ? t(key) : String(state).toLowerCase());
  }

  function renderLicenses(conns) {
    var sel = document.getElementById("redeem-app");
    fill(sel, conns.map(function (c) { return h("option", { value: c.application.id }, c.application.name); }));
    document.getElementById("redeem-form").hidden = !conns.length;
    var rows = [];
    conns.forEach(function (c) {
      LS.edges(c.licenses).forEach(function (l) {
        rows.push(h("tr", null, h("td", { "data-label": t("dashboard.col_app") }, c.application.name), h("td", { "data-label": t("dashboard.col_license") }, l.variant ? l.variant.name : "—"),
          h("td", { "data-label": t("dashboard.col_code") }, h("code", null, l.code)), h("td", { "data-label": t("dashboard.col_state") }, stateBadge(l.state)),
          h("td", { "data-label": t("dashboard.col_expires") }, l.expiresAt ? LS.date(l.expiresAt) : t("dashboard.never"))));
      });
    });
    if (!rows.length) { fill("licenses", h("p", { class: "empty" }, t(conns.length ? "dashboard.no_licenses" : "dashboard.no_licenses_apps"))); return; }
    fill("licenses", h("div", { class: "table-wrap" }, h("table", { class: "rows-on-phone" },
      h("thead", null, h("tr", null, ["app", "license", "code", "state", "expires"].map(function (k) { return h("th", { scope: "col" }, t("dashboard.col_" + k)); }))),
      h("tbody", null, rows))));
  }

  // Adding, changing or removing an address and closing the account take the person's second
  // step (a copied session cookie must not take the account): a current code from the app or
  // a recovery code with two-step verification on, else a code mailed to them
  // (LS.secondStepField; loadAddresses knows which).
  var addressCode = LS.secondStepField("address-code", t("dashboard.address_code"), t("dashboard.address_code_mail"));
  var deleteCode = LS.secondStepField("delete-code", t("dashboard.delete_code"), t("dashboard.delete_code_mail"));
  function askCodes(on) {
    if (!addressCode.field.isConnected) {
      var slot = document.querySelector("[data-slot=addresses]"), del = document.getElementById("delete-form");
      slot.parentNode.insertBefore(addressCode.field, slot);
      del.insertBefore(deleteCode.field, del.querySelector("button[type=submit]"));
    }
    addressCode.setOn(on);
    deleteCode.setOn(on);
  }
  document.addEventListener("ls:two-step", function (ev) { askCodes(ev.detail); });

  async function loadAddresses() {
    var data;
    try { data = await gql(Q.addresses); } catch (e) { failed("addresses", e); return; }
    var v = data.viewer;
    askCodes(v.twoStep.enabled);
    var list = LS.edges(v.emails);
    var followers = "";
    try { followers = await primaryFollowers(v.email); } catch (e) { failed("addresses", e); return; }
    fill("addresses", h("ul", { class: "list" },
      h("li", null, h("div", { class: "grow" }, h("strong", null, v.email), " ", h("span", { class: "badge ok" }, t("dashboard.primary")))),
      list.filter(function (e) { return e.email !== v.email; }).map(function (e) {
        return h("li", null,
          h("div", { class: "grow" }, e.email, " ", e.verifiedAt ? h("span", { class: "badge ok" }, t("dashboard.verified")) : h("span", { class: "badge warn" }, t("dashboard.unverified"))),
          e.verifiedAt
            ? makePrimaryButton(e, followers)
            : h("span", { class: "small muted" }, t("dashboard.confirm_link")),
          LS.confirmButton(t("dashboard.remove"), t("dashboard.confirm"), "small", async function () {
            await gql(Q.removeEmail, { id: e.id, code: addressCode.value() });
            addressCode.input.value = "";
            LS.say(t("dashboard.email_removed", { email: e.email }), "ok");
            loadAddresses();
          }));
      })));
  }

  // primaryFollowers names the apps shown the primary address email ("" for none): making
  // another address primary moves them to it (they are told by an email_changed event).
  async function primaryFollowers(email) {
    var conns = (await gql(Q.primaryFollowers, { email: email })).viewer.connections;
    var names = LS.edges(conns).map(function (c) { return c.application.name; });
    if (conns.totalCount > names.length) names.push(t("dashboard.more_apps", { count: LS.number(conns.totalCount - names.length) }));
    return names.join(", ");
  }

  // makePrimaryButton makes e the primary address: at once when no app sees the primary,
  // else on a second click of a button naming the apps that will see e instead.
  function makePrimaryButton(e, followers) {
    // The card is drawn again before the message, which then goes to the page's status line.
    var act = async function () {
      await gql(Q.makePrimary, { id: e.id, code: addressCode.value() });
      addressCode.input.value = "";
      await loadAddresses();
    };
    if (!followers) {
      return h("button", { type: "button", class: "small", onclick: function (ev) { LS.busy(ev.target, act, t("dashboard.now_primary", { email: e.email })); } }, t("dashboard.make_primary"));
    }
    return LS.confirmButton(t("dashboard.make_primary"), t("dashboard.confirm_primary_apps", { apps: followers }), "small", act,
      t("dashboard.now_primary_apps", { email: e.email, apps: followers }));
  }

  async function loadPendingLinks() {
    var data;
    try { data = await gql(Q.pendingLinks); } catch (e) { failed("pending-links", e); return; }
    var list = data.viewer.pendingLinks || [];
    document.getElementById("pending-links").hidden = !list.length;
    fill("pending-links", h("ul", { class: "list" }, list.map(function (l) {
      return h("li", { "data-pending-link": l.id },
        LS.icon({ name: l.applicationName }), // the initial: never a URL the developer chose before the person agreed
        h("div", { class: "grow" },
          h("strong", null, l.applicationName),
          h("div", { class: "small" }, t("dashboard.pending_knows", { email: l.email, user: l.externalUserId })),
          h("div", { class: "small muted" }, t("dashboard.pending_proposed", { date: LS.date(l.proposedAt), app: l.applicationName }))),
        LS.confirmButton(t("dashboard.refuse"), t("dashboard.confirm_refusal"), "small", async function () {
          await gql(Q.refuseLink, { id: l.id });
          LS.say(t("dashboard.refused", { app: l.applicationName }), "ok");
          loadPendingLinks();
        }));
    })));
  }

  function describeAgent(ua) {
    if (!ua) return t("dashboard.unknown_browser");
    var b = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : t("dashboard.browser");
    var os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
    return os ? t("dashboard.browser_on", { browser: b, os: os }) : b;
  }

  function signedInWith(amr) {
    amr = amr || [];
    if (amr.indexOf("hwk") >= 0 || amr.indexOf("swk") >= 0) return t("dashboard.with_passkey");
    if (amr.indexOf("otp") >= 0) return t("dashboard.with_link_code");
    return t("dashboard.with_link");
  }

  async function loadSessions() {
    var data;
    try { data = await gql(Q.sessions); } catch (e) { failed("sessions", e); return; }
    var list = data.viewer.sessions || [];
    fill("sessions", h("ul", { class: "list" }, list.map(function (s) {
      return h("li", null, h("div", { class: "grow" },
        h("strong", null, describeAgent(s.userAgent)), " ", s.current ? h("span", { class: "badge ok" }, t("dashboard.this_browser")) : null,
        h("div", { class: "small muted" }, t("dashboard.session_info", { last: LS.dateTime(s.lastSeen), date: LS.date(s.createdAt), how: signedInWith(s.signInMethods) }))),
        s.current ? null : h("button", { type: "button", class: "small", onclick: function (ev) {
          LS.busy(ev.target, async function () { await gql(Q.signOut, { id: s.id }); loadSessions(); }, t("dashboard.signed_out"));
        } }, t("dashboard.sign_out")));
    })));
  }

  document.getElementById("sign-out-others").addEventListener("click", function (ev) {
    LS.busy(ev.target, async function () { var d = await gql(Q.signOutOthers); loadSessions(); return d; }, t("dashboard.signed_out_others"));
  });

  document.getElementById("redeem-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      await gql(Q.redeem, { applicationId: f.app.value, code: f.code.value.trim() });
      f.code.value = "";
      loadApps();
    }, t("dashboard.redeemed"));
  });

  document.getElementById("add-email-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      await gql(Q.addEmail, { email: f.email.value.trim(), code: addressCode.value() });
      var sent = f.email.value.trim();
      f.email.value = "";
      addressCode.input.value = "";
      loadAddresses();
      return sent;
    }, function (sent) { return t("dashboard.verification_sent", { email: sent }); });
  });

  document.getElementById("delete-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      await gql(Q.deleteAccount, { confirm: f.confirm.value.trim(), code: deleteCode.value() });
      location.assign("/login");
    });
  });

  // The language setting: saved with setLanguage, then the page is loaded again in it.
  document.getElementById("language-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      await gql(Q.setLanguage, { language: f.language.value || null });
      location.reload();
    }, t("dashboard.language_saved"));
  });

  loadProfile();
  loadApps();
  loadPendingLinks();
  loadAddresses();
  loadSessions();
})();

// The activity card: the person's own events, newest first, filtered by type, paged.
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql, t = LS.t;
  var ActivityQ = {
    activity: "query DashboardActivity($types: [ActivityEventType!], $after: String) { viewer { id activity(first: 20, types: $types, after: $after) { events { id type actor applicationName connectionId details { key value } at } nextCursor } } }"
  };
  // What an event type and sign-in method read as: dashboard.event.TYPE and the sign-in
  // methods in the page's script messages.
  var METHOD = { magic_link: "dashboard.with_link", passkey: "dashboard.with_passkey", totp: "dashboard.with_link_code",
    recovery_code: "dashboard.with_link_recovery" };
  var after = null, items = [];
  var select = document.getElementById("activity-type");
  if (!select) return;

  function describe(ev) {
    var d = {};
    ev.details.forEach(function (kv) { d[kv.key] = kv.value; });
    var parts = [LS.has("dashboard.event." + ev.type) ? t("dashboard.event." + ev.type) : ev.type.toLowerCase().replace(/_/g, " ")];
    if (ev.applicationName) parts.push(ev.type === "SIGN_IN" ? t("dashboard.event_to", { app: ev.applicationName }) : "· " + ev.applicationName);
    if (d.method && METHOD[d.method]) parts.push(t(METHOD[d.method]));
    if (d.address) parts.push("· " + d.address);
    if (d.name) parts.push("· " + d.name);
    if (d.location) parts.push("· " + t("dashboard.event_from", { location: d.location }));
    return parts.join(" ");
  }

  async function load(reset) {
    if (reset) { after = null; items = []; }
    var types = select.value ? select.value.split(",") : null;
    var data;
    try { data = await gql(ActivityQ.activity, { types: types, after: after }); } catch (e) {
      fill("activity", h("div", { class: "alert error", role: "alert" }, e.message)); return;
    }
    var page = data.viewer.activity;
    items = items.concat(page.events);
    after = page.nextCursor;
    fill("activity-more", after ? h("button", { type: "button", class: "small", id: "activity-more", onclick: function () { load(false); } }, t("dashboard.show_older")) : null);
    if (!items.length) { fill("activity", h("p", { class: "empty" }, t("dashboard.nothing_yet"))); return; }
    fill("activity", h("ul", { class: "list" }, items.map(function (ev) {
      return h("li", { "data-event": ev.id }, h("div", { class: "grow" },
        h("strong", null, describe(ev)), h("div", { class: "small muted" }, LS.dateTime(ev.at))));
    })));
  }

  // The data export: fetched, then saved as a file (LS.download); a refusal (rate limit) is
  // shown, and a session that ended sends the person to sign in and back. It needs a sign-in
  // of the last 15 minutes: an older one (reauthentication_required) sends the person to sign
  // in again and back to /dashboard?download=1, where the page says they can download now
  // (#download-ready) and the button is shown and focused. The download itself waits for the
  // click: any site can send the person to that address.
  document.getElementById("download-data").addEventListener("click", function (ev) {
    LS.busy(ev.target, async function () {
      await LS.download("/api/account/export", "loginsign-data.json", "/dashboard?download=1");
      load(true);
    }, t("dashboard.downloaded"));
  });
  if (document.getElementById("download-ready")) {
    var downloadButton = document.getElementById("download-data");
    downloadButton.scrollIntoView({ block: "center" });
    downloadButton.focus({ preventScroll: true });
  }
  if (new URLSearchParams(location.search).has("download")) {
    history.replaceState(null, "", location.pathname + location.hash);
  }

  select.addEventListener("change", function () { load(true); });
  load(true);
})();

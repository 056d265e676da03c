// security.js fills the dashboard's Passkeys and Two-step verification cards from /graphql.
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql;

  var Q = {
    passkeys: "query DashboardPasskeys { viewer { id passkeys { id name createdAt lastUsedAt synced } } }",
    beginPasskey: "mutation BeginPasskeyRegistration { beginPasskeyRegistration(input: {}) { options } }",
    finishPasskey: "mutation FinishPasskeyRegistration($name: String!, $credential: String!) { finishPasskeyRegistration(input: {name: $name, credential: $credential}) { passkey { id name } } }",
    deletePasskey: "mutation DeletePasskey($id: ID!) { deletePasskey(input: {id: $id}) { deletedId } }",
    twoStep: "query DashboardTwoStep { viewer { id twoStep { enabled enabledAt recoveryCodesLeft } } }",
    beginTOTP: "mutation BeginTotpEnrolment { beginTotpEnrolment(input: {}) { enrolment { secret uri qrCode expiresAt } } }",
    confirmTOTP: "mutation ConfirmTotpEnrolment($code: String!) { confirmTotpEnrolment(input: {code: $code}) { recoveryCodes } }",
    disable: "mutation DisableTwoStep($code: String!) { disableTwoStep(input: {code: $code}) { disabled } }",
    regenerate: "mutation RegenerateRecoveryCodes($code: String!) { regenerateRecoveryCodes(input: {code: $code}) { recoveryCodes } }"
  };

  function failed(slot, e) { fill(slot, h("div", { class: "alert error", role: "alert" }, e.message)); }

  async function loadPasskeys() {
    var data;
    try { data = await gql(Q.passkeys); } catch (e) { failed("passkeys", e); return; }
    var list = data.viewer.passkeys;
    if (!list.length) { fill("passkeys", h("p", { class: "empty" }, "No passkeys yet.")); return; }
    fill("passkeys", h("ul", { class: "list" }, list.map(function (k) {
      return h("li", { "data-passkey": k.id }, h("div", { class: "grow" },
        h("strong", null, k.name), " ", k.synced ? h("span", { class: "badge" }, "synced") : h("span", { class: "badge" }, "this device"),
        h("div", { class: "small muted" }, "Added " + LS.date(k.createdAt) + " · " + (k.lastUsedAt ? "last used " + LS.dateTime(k.lastUsedAt) : "not used yet"))),
        LS.confirmButton("Remove", "Confirm removal", "small", async function () {
          await gql(Q.deletePasskey, { id: k.id });
          LS.say("The passkey " + k.name + " was removed.", "ok");
          loadPasskeys();
        }));
    })));
  }

  var addForm = document.getElementById("add-passkey-form");
  addForm.hidden = !window.LSPasskey.supported;
  addForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      var begin = await gql(Q.beginPasskey);
      var cred = await navigator.credentials.create({ publicKey: LSPasskey.creationOptions(begin.beginPasskeyRegistration.options) });
      await gql(Q.finishPasskey, { name: f.name.value.trim() || "Passkey", credential: LSPasskey.credentialJSON(cred) });
      f.name.value = "";
      loadPasskeys();
    }, "Passkey added. You can sign in with it now.");
  });

  function codeForm(id, label, button, act) {
    var input = h("input", { id: id + "-code", name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "64", required: true });
    var form = h("form", { id: id, class: "row", novalidate: true },
      h("label", { for: id + "-code" }, label), input, h("button", { type: "submit" }, button));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(form, function () { return act(input.value.trim()); });
    });
    return form;
  }

  function showCodes(codes) {
    fill("two-step", h("div", { class: "stack" },
      h("p", null, "Two-step verification is on. Keep these recovery codes somewhere safe: each one signs you in once if you lose your authenticator app. They are shown only now."),
      h("ul", { class: "codes", id: "recovery-codes" }, codes.map(function (c) { return h("li", null, h("code", null, c)); })),
      h("button", { type: "button", onclick: loadTwoStep }, "Done")));
  }

  async function loadTwoStep() {
    var data;
    try { data = await gql(Q.twoStep); } catch (e) { failed("two-step", e); return; }
    var st = data.viewer.twoStep;
    if (!st.enabled) {
      fill("two-step", h("div", { class: "stack" },
        h("p", { class: "muted" }, "Off. Turn it on to be asked for a code from an authenticator app after every email link."),
        h("button", { type: "button", id: "totp-begin", onclick: function (ev) { LS.busy(ev.target, beginTOTP); } }, "Turn on two-step verification")));
      return;
    }
    fill("two-step", h("div", { class: "stack" },
      h("p", null, h("span", { class: "badge ok" }, "on"), " since " + LS.date(st.enabledAt) + " · " + st.recoveryCodesLeft + " recovery codes left"),
      codeForm("regenerate-form", "Code for new recovery codes", "New recovery codes", async function (code) {
        var d = await gql(Q.regenerate, { code: code });
        showCodes(d.regenerateRecoveryCodes.recoveryCodes);
      }),
      codeForm("disable-form", "Code to turn it off", "Turn off", async function (code) {
        await gql(Q.disable, { code: code });
        LS.say("Two-step verification is off.", "ok");
        loadTwoStep();
      })));
  }

  async function beginTOTP() {
    var d = await gql(Q.beginTOTP);
    var e = d.beginTotpEnrolment.enrolment;
    fill("two-step", h("div", { class: "stack" },
      h("p", null, "Scan this code with your authenticator app, or type the key, then enter the 6-digit code it shows."),
      h("img", { src: e.qrCode, alt: "QR code of your two-step verification key", width: "200", height: "200", id: "totp-qr" }),
      h("p", { class: "small" }, "Key: ", h("code", { id: "totp-secret" }, e.secret)),
      codeForm("totp-confirm-form", "Code from the app", "Turn on", async function (code) {
        var r = await gql(Q.confirmTOTP, { code: code });
        showCodes(r.confirmTotpEnrolment.recoveryCodes);
      })));
  }

  loadPasskeys();
  loadTwoStep();
})();

// security.js fills the dashboard's Passkeys and Two-step verification cards from /graphql.
(function () {
  "use strict";
  var h = LS.h, fill = LS.fill, gql = LS.gql, t = LS.t;

  var Q = {
    passkeys: "query DashboardPasskeys { viewer { id passkeys { id name createdAt lastUsedAt synced } } }",
    beginPasskey: "mutation BeginPasskeyRegistration { beginPasskeyRegistration(input: {}) { options } }",
    finishPasskey: "mutation FinishPasskeyRegistration($name: String!, $credential: String!, $code: String) { finishPasskeyRegistration(input: {name: $name, credential: $credential, code: $code}) { passkey { id name } } }",
    deletePasskey: "mutation DeletePasskey($id: ID!, $code: String) { deletePasskey(input: {id: $id, code: $code}) { deletedId } }",
    twoStep: "query DashboardTwoStep { viewer { id twoStep { enabled enabledAt recoveryCodesLeft } } }",
    beginTOTP: "mutation BeginTotpEnrolment { beginTotpEnrolment(input: {}) { enrolment { secret uri qrCode expiresAt } } }",
    confirmTOTP: "mutation ConfirmTotpEnrolment($code: String!, $confirmation: String) { confirmTotpEnrolment(input: {code: $code, confirmation: $confirmation}) { recoveryCodes } }",
    disable: "mutation DisableTwoStep($code: String!) { disableTwoStep(input: {code: $code}) { disabled } }",
    regenerate: "mutation RegenerateRecoveryCodes($code: String!) { regenerateRecoveryCodes(input: {code: $code}) { recoveryCodes } }"
  };

  function failed(slot, e) { fill(slot, h("div", { class: "alert error", role: "alert" }, e.message)); }

  async function loadPasskeys() {
    var data;
    try { data = await gql(Q.passkeys); } catch (e) { failed("passkeys", e); return; }
    var list = data.viewer.passkeys;
    // The code fields (LS.secondStepField) offer to confirm with a passkey when there is one.
    document.dispatchEvent(new CustomEvent("ls:passkeys", { detail: list.length }));
    if (!list.length) { fill("passkeys", h("p", { class: "empty" }, t("security.no_passkeys"))); return; }
    fill("passkeys", h("ul", { class: "list" }, list.map(function (k) {
      return h("li", { "data-passkey": k.id }, h("div", { class: "grow" },
        h("strong", null, k.name), " ", k.synced ? h("span", { class: "badge" }, t("security.synced")) : h("span", { class: "badge" }, t("security.this_device")),
        h("div", { class: "small muted" }, t("security.passkey_info", { date: LS.date(k.createdAt), used: k.lastUsedAt ? t("security.last_used", { date: LS.dateTime(k.lastUsedAt) }) : t("security.not_used") }))),
        LS.confirmButton(t("dashboard.remove"), t("dashboard.confirm_removal"), "small", async function () {
          await gql(Q.deletePasskey, { id: k.id, code: passkeyCode.value() });
          passkeyCode.input.value = "";
          LS.say(t("security.passkey_removed", { name: k.name }), "ok");
          loadPasskeys();
        }));
    })));
  }

  var addForm = document.getElementById("add-passkey-form");
  addForm.hidden = !window.LSPasskey.supported;
  // A passkey signs in as both steps: adding or removing one also takes the person's second
  // step, a current code from the app or a recovery code with two-step verification on, else
  // a code mailed to them (LS.secondStepField; loadTwoStep knows which).
  var passkeyCode = LS.secondStepField("passkey-code", t("security.passkey_code"), t("security.passkey_code_mail"));
  passkeyCode.input.placeholder = t("security.passkey_code_placeholder");
  passkeyCode.input.required = true;
  addForm.insertBefore(passkeyCode.field, addForm.querySelector("button[type=submit]"));
  function askPasskeyCode(on) {
    passkeyCode.setOn(on);
    passkeyCode.input.placeholder = on ? t("security.passkey_code_placeholder") : "";
  }
  addForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    LS.busy(f, async function () {
      var begin = await gql(Q.beginPasskey);
      var cred = await navigator.credentials.create({ publicKey: LSPasskey.creationOptions(begin.beginPasskeyRegistration.options) });
      await gql(Q.finishPasskey, { name: f.name.value.trim() || t("security.passkey_default"), credential: LSPasskey.credentialJSON(cred),
        code: passkeyCode.value() });
      f.name.value = "";
      passkeyCode.input.value = "";
      loadPasskeys();
    }, t("security.passkey_added"));
  });

  // codeForm is a form of one code field and its button; extra (a field's element) goes
  // before the button, and opts are LS.busy's.
  function codeForm(id, label, button, act, extra, opts) {
    var input = h("input", { id: id + "-code", name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "64", required: true });
    var form = h("form", { id: id, class: "row", novalidate: true },
      h("label", { for: id + "-code" }, label), input, extra || null, h("button", { type: "submit" }, button));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      LS.busy(form, function () { return act(input.value.trim()); }, undefined, opts);
    });
    return form;
  }

  function showCodes(codes) {
    fill("two-step", h("div", { class: "stack" },
      h("p", null, t("security.codes_lead")),
      h("ul", { class: "codes", id: "recovery-codes" }, codes.map(function (c) { return h("li", null, h("code", null, c)); })),
      h("button", { type: "button", onclick: loadTwoStep }, t("security.done"))));
  }

  async function loadTwoStep() {
    var data;
    try { data = await gql(Q.twoStep); } catch (e) { failed("two-step", e); return; }
    var st = data.viewer.twoStep;
    askPasskeyCode(st.enabled);
    // The addresses and account cards (dashboard.js) ask for a code too while it is on.
    document.dispatchEvent(new CustomEvent("ls:two-step", { detail: st.enabled }));
    if (!st.enabled) {
      fill("two-step", h("div", { class: "stack" },
        h("p", { class: "muted" }, t("security.off")),
        h("button", { type: "button", id: "totp-begin", onclick: function (ev) { LS.busy(ev.target, beginTOTP); } }, t("security.turn_on_two_step"))));
      return;
    }
    fill("two-step", h("div", { class: "stack" },
      h("p", null, h("span", { class: "badge ok" }, t("security.on")), t("security.on_since", { date: LS.date(st.enabledAt), count: st.recoveryCodesLeft })),
      codeForm("regenerate-form", t("security.code_regenerate"), t("security.regenerate"), async function (code) {
        var d = await gql(Q.regenerate, { code: code });
        showCodes(d.regenerateRecoveryCodes.recoveryCodes);
      }),
      codeForm("disable-form", t("security.code_disable"), t("security.turn_off"), async function (code) {
        await gql(Q.disable, { code: code });
        LS.say(t("security.is_off"), "ok");
        loadTwoStep();
      })));
  }

  async function beginTOTP() {
    var d = await gql(Q.beginTOTP);
    var e = d.beginTotpEnrolment.enrolment;
    var confirmation = LS.secondStepField("totp-confirmation", t("security.totp_code_mail"), t("security.totp_code_mail"));
    fill("two-step", h("div", { class: "stack" },
      h("p", null, t("security.scan")),
      h("img", { src: e.qrCode, alt: t("security.qr_alt"), width: "200", height: "200", id: "totp-qr" }),
      h("p", { class: "small" }, t("security.key"), h("code", { id: "totp-secret" }, e.secret)),
      // The app changes how the person signs in, as a passkey does: their mailbox (a mailed
      // code) or one of their passkeys confirms it, not the session alone.
      codeForm("totp-confirm-form", t("security.code_app"), t("security.turn_on"), async function (code) {
        var r = await gql(Q.confirmTOTP, { code: code, confirmation: confirmation.value() });
        showCodes(r.confirmTotpEnrolment.recoveryCodes);
      }, confirmation.field, { field: function (e) { return e.code === "confirmation_code_required" ? confirmation.input : null; } })));
  }

  loadPasskeys();
  loadTwoStep();
})();

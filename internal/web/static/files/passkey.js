// passkey.js: WebAuthn in the browser for LoginSign. LSPasskey turns the server's options
// (JSON, base64url binary fields) into what navigator.credentials expects and a credential
// back into JSON. On the login page it runs "Sign in with a passkey" and passkey autofill of
// the email field (conditional mediation); the chosen passkey posts the form #passkey-form,
// so the server's redirect continues the sign-in like a magic link.
(function () {
  "use strict";

  function decode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function encode(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    var o = JSON.parse(json).publicKey;
    o.challenge = decode(o.challenge);
    o.user.id = decode(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    return o;
  }

  function requestOptions(json) {
    var o = JSON.parse(json).publicKey;
    o.challenge = decode(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    return o;
  }

  function credentialJSON(c) {
    var r = c.response;
    var out = { id: c.id, rawId: encode(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
      authenticatorAttachment: c.authenticatorAttachment || undefined, response: { clientDataJSON: encode(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      if (r.userHandle) out.response.userHandle = encode(r.userHandle);
    }
    return JSON.stringify(out);
  }

  window.LSPasskey = { creationOptions: creationOptions, requestOptions: requestOptions, credentialJSON: credentialJSON,
    supported: !!(window.PublicKeyCredential && navigator.credentials) };

  var form = document.getElementById("passkey-form");
  if (!form) return;
  if (!window.LSPasskey.supported) { form.hidden = true; return; }
  form.hidden = false;
  var pending = null;

  // say is the page's message key in its language (LS.t, messages embedded by the login
  // page), English where the page has none.
  function say(key, english) {
    return window.LS && LS.has && LS.has(key) ? LS.t(key) : english;
  }

  function fail(msg) {
    var el = document.getElementById("passkey-error");
    el.textContent = msg;
    el.hidden = false;
  }

  async function signIn(mediation) {
    if (pending) pending.abort();
    var ctl = new AbortController();
    pending = ctl;
    var resp = await fetch("/login/passkey", { credentials: "same-origin" });
    if (!resp.ok) throw new Error(say("passkey.unavailable", "Passkey sign-in is not available right now."));
    var req = { publicKey: requestOptions(await resp.text()), signal: ctl.signal };
    if (mediation) req.mediation = mediation;
    var cred = await navigator.credentials.get(req);
    if (!cred) return;
    form.credential.value = credentialJSON(cred);
    form.submit();
  }

  form.addEventListener("submit", function (ev) {
    if (form.credential.value) return;
    ev.preventDefault();
    signIn("").catch(function (e) {
      if (e && e.name === "AbortError") return;
      fail(e && e.name === "NotAllowedError" ? say("passkey.none_chosen", "No passkey was chosen.") : (e && e.message) || say("passkey.failed", "Passkey sign-in failed."));
    });
  });

  // Autofill: offer passkeys in the email field's suggestions.
  if (PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (ok) signIn("conditional").catch(function () {});
    });
  }
})();

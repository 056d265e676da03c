// ls.js: the few helpers the dashboard and portal scripts share. A client of /graphql (same
// origin, session cookie), a DOM builder that never parses HTML strings, and formatting.
(function () {
  "use strict";

  // Languages. The page's language is <html lang>; the page embeds its scripts' messages in
  // that language as JSON (#ls-messages, from internal/i18n). t(key, args) formats one:
  // "{name}" placeholders from args (numbers written the language's way), and for a plural
  // message the form Intl.PluralRules picks for args.count. A missing key shows the key.
  var lang = document.documentElement.lang || "en";
  var messages = {};
  try {
    var m = document.getElementById("ls-messages");
    if (m) messages = JSON.parse(m.textContent) || {};
  } catch (e) { messages = {}; }
  var pluralRules = new Intl.PluralRules(lang);

  function t(key, args) {
    var msg = messages[key];
    if (msg === undefined) return key;
    args = args || {};
    if (typeof msg === "object") {
      var n = Number(args.count);
      msg = msg[pluralRules.select(isNaN(n) ? 0 : n)] || msg.other;
    }
    return String(msg).replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, function (all, name) {
      if (!(name in args)) return all;
      var v = args[name];
      return typeof v === "number" ? number(v) : String(v);
    });
  }

  // has reports whether the page has the message key.
  function has(key) { return Object.prototype.hasOwnProperty.call(messages, key); }

  // errorMessage is what a person reads for a server error: in English the server's own
  // message; in another language the translation of its code (extensions.code or the REST
  // "error"), else the server's message; "" when there is neither.
  function errorMessage(code, serverMessage) {
    if (lang !== "en" && code && has("ls.error." + code)) return t("ls.error." + code);
    return serverMessage || (code && has("ls.error." + code) ? t("ls.error." + code) : "");
  }

  // signInFor sends the person to the login page when code says their session cannot do what
  // they asked, and back to this page afterwards: "unauthorized" (not signed in) to sign in,
  // "reauthentication_required" (an action that needs a recent sign-in, auth.RecentSignIn)
  // to sign in again. back, when given, is the first-party path to come back to instead of
  // this page (as return_to: /dashboard, /portal, /account or /playground and under them).
  // Other codes do nothing.
  function signInFor(code, back) {
    back = encodeURIComponent(back || location.pathname + location.search);
    if (code === "unauthorized") location.assign("/login?return_to=" + back);
    if (code === "reauthentication_required") location.assign("/login?again=1&return_to=" + back);
  }

  // gql runs a GraphQL operation and returns its data; errors throw an Error whose message is
  // the server's (and whose code is extensions.code). back is signInFor's: the page to come
  // back to after signing in (again), when not this page's address.
  async function gql(query, variables, back) {
    var res;
    try {
      res = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ query: query, variables: variables || {} })
      });
    } catch (e) {
      throw new Error(t("ls.unreachable"));
    }
    var body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (body && body.errors && body.errors.length) {
      var code = body.errors[0].extensions && body.errors[0].extensions.code;
      var err = new Error(errorMessage(code, body.errors.map(function (e) { return e.message; }).join("; ")));
      err.code = code;
      err.data = body.data;
      console.warn("LoginSign GraphQL:", err.message);
      signInFor(err.code, back);
      throw err;
    }
    if (!res.ok || !body) throw new Error(t("ls.request_failed", { status: String(res.status) }));
    return body.data;
  }

  // download fetches url, a REST download of this origin (the session cookie goes along), and
  // saves the answer as the file name. A refusal throws (refused); nothing is saved.
  async function download(url, name, back) {
    var res;
    try {
      res = await fetch(url, { credentials: "same-origin" });
    } catch (e) {
      throw new Error(t("ls.unreachable"));
    }
    if (!res.ok) throw await refused(res, back);
    var href = URL.createObjectURL(await res.blob());
    var a = h("a", { href: href, download: name });
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(href); }, 60000);
  }

  // post sends body (a FormData: an upload) to url, a REST route of this origin (the session
  // cookie goes along; the browser's Origin and Sec-Fetch-Site headers are what the server's
  // cross-origin check reads), and returns the JSON answer. A refusal throws (refused).
  async function post(url, body, back) {
    var res;
    try {
      res = await fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" } });
    } catch (e) {
      throw new Error(t("ls.unreachable"));
    }
    if (!res.ok) throw await refused(res, back);
    var out = await res.json().catch(function () { return null; });
    if (!out) throw new Error(t("ls.request_failed", { status: String(res.status) }));
    return out;
  }

  // refused is the Error of a refused REST answer res: the server's message in the page's
  // language (errorMessage of the REST "error" code), with the code. As gql does, it sends the
  // person to sign in (again) on unauthorized or reauthentication_required, and back to back
  // (signInFor; this page when absent).
  async function refused(res, back) {
    var body = await res.json().catch(function () { return {}; });
    var err = new Error(errorMessage(body.error, body.message) || t("ls.request_failed", { status: String(res.status) }));
    err.code = body.error;
    signInFor(err.code, back);
    return err;
  }

  // h builds an element: h("a", {href: "/x", class: "btn"}, "text", child, [children]).
  // Attributes starting with "on" are event listeners; booleans set or omit the attribute.
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = v;
        else if (v === true) el.setAttribute(k, "");
        else el.setAttribute(k, String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(el, x); }); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  // fill replaces the children of el (or of [data-slot=el]).
  function fill(el) {
    if (typeof el === "string") el = document.querySelector('[data-slot="' + el + '"]') || document.getElementById(el);
    if (!el) return null;
    // A slot the page marked loading (aria-busy) holds its content from now on.
    el.removeAttribute("aria-busy");
    el.textContent = "";
    for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  // say shows a message in the page's live region (#status). Actions report next to their
  // control instead (busy); say is for what belongs to the whole page.
  function say(msg, kind) {
    var s = document.getElementById("status");
    if (!s) return;
    fill(s, h("div", { class: "alert " + (kind || "ok"), role: kind === "error" ? "alert" : null }, msg));
    if (kind === "error") s.scrollIntoView({ block: "nearest" });
  }

  // clearPageError removes an error the page-wide status box still shows from an earlier action.
  function clearPageError() {
    var s = document.getElementById("status");
    if (s && s.querySelector(".alert.error")) s.textContent = "";
  }

  // statusFor returns the message box of target, made on first use: a form's own box at its end
  // (next to its submit button), the cell or list item of a button, or a box right after the
  // button's row.
  function statusFor(target) {
    if (target.nodeType !== 1) return target;
    var host, after = null;
    if (target.tagName === "FORM") host = target;
    else {
      var cell = target.closest("td, li");
      if (cell) host = cell;
      else { after = target.closest(".row") || target; host = after.parentNode; }
    }
    var box = after ? after.nextElementSibling : host.querySelector(":scope > .form-status");
    if (!box || !box.classList.contains("form-status")) {
      box = h("div", { class: "form-status", "aria-live": "polite" });
      if (after) after.insertAdjacentElement("afterend", box); else host.appendChild(box);
    }
    return box;
  }

  // report shows msg in box and moves focus there, so the result is read out and on screen.
  function report(box, msg, kind, focus) {
    var m = h("div", { class: "alert " + kind, role: kind === "error" ? "alert" : "status", tabindex: "-1" }, msg);
    fill(box, m);
    if (focus !== false) { m.focus({ preventScroll: true }); m.scrollIntoView({ block: "nearest" }); }
    return m;
  }

  var errSeq = 0;
  // fieldError shows msg right after control, marks it aria-invalid and describes it by the
  // message; the control gets focus.
  function fieldError(control, msg, focus) {
    clearFieldError(control);
    var id = (control.id || "field-" + (++errSeq)) + "-error";
    var p = h("p", { class: "field-error", id: id }, msg);
    control.insertAdjacentElement("afterend", p);
    control.setAttribute("aria-invalid", "true");
    var by = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    by.push(id);
    control.setAttribute("aria-describedby", by.join(" "));
    if (focus !== false) { control.focus({ preventScroll: true }); control.scrollIntoView({ block: "center" }); }
    return p;
  }

  function clearFieldError(control) {
    var n = control.nextElementSibling;
    if (n && n.classList.contains("field-error")) n.remove();
    control.removeAttribute("aria-invalid");
    var by = (control.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x && !/-error$/.test(x); });
    if (by.length) control.setAttribute("aria-describedby", by.join(" ")); else control.removeAttribute("aria-describedby");
  }

  // invalid makes an Error that busy shows next to control.
  function invalid(control, msg) {
    var e = new Error(msg);
    e.field = control;
    return e;
  }

  function controlsOf(form) { return [].slice.call(form.querySelectorAll("input, select, textarea")); }
  function textControls(form) {
    return controlsOf(form).filter(function (c) { return c.tagName === "TEXTAREA" || /^(text|email|url|search|number|password|)$/.test(c.type); });
  }
  function labelOf(c) {
    var l = c.labels && c.labels[0];
    return l ? (l.firstChild && l.firstChild.nodeType === 3 ? l.firstChild.textContent : l.textContent).trim() : (c.getAttribute("aria-label") || t("ls.this_field"));
  }

  // One date and number style on every page (docs/glossary.md): "30 Nov 2026",
  // "30 Nov 2026, 14:05" (24-hour, the browser's time zone), "1,234", "—" for nothing; in
  // another language the same style written its way ("30 nov. 2026", "1 234"; "30. Nov. 2026",
  // "1.234").
  var dateLocale = lang === "en" ? "en-GB" : lang, numberLocale = lang === "en" ? "en-US" : lang;
  var dateFmt = new Intl.DateTimeFormat(dateLocale, { year: "numeric", month: "short", day: "numeric" });
  var dateTimeFmt = new Intl.DateTimeFormat(dateLocale, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  var numberFmt = new Intl.NumberFormat(numberLocale);

  function date(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return isNaN(d) ? iso : dateFmt.format(d);
  }

  function dateTime(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return isNaN(d) ? iso : dateTimeFmt.format(d);
  }

  function number(n) { return numberFmt.format(n || 0); }

  // count writes n with its noun, singular or plural: "1 sign-in", "2 sign-ins", "0 users".
  function count(n, one, many) { return number(n) + " " + (n === 1 ? one : (many || one + "s")); }

  function initial(s) { return (s || "?").trim().charAt(0).toUpperCase() || "?"; }

  // icon renders an app's icon, or its initial when it has none.
  function icon(app) {
    if (app && app.iconUrl && /^https:\/\//.test(app.iconUrl)) return h("img", { class: "app-icon", src: app.iconUrl, alt: "" });
    return h("span", { class: "app-icon", "aria-hidden": "true" }, initial(app && app.name));
  }

  // busy disables a form or button while fn runs, then reports the outcome next to it: a
  // success message (ok, a string or a function of fn's result) in the form's or button's own
  // status box, an error next to the control it is about (err.field, opts.field, or a form's only
  // text control) with aria-invalid, else in the status box; focus moves to the result. Empty
  // required controls of a form are reported before fn runs. opts.at names another status box
  // (for a button whose row fn redraws).
  async function busy(target, fn, ok, opts) {
    opts = opts || {};
    var isForm = target.tagName === "FORM";
    var controls = isForm ? target.querySelectorAll("button, input, select, textarea, fieldset") : [target];
    var box = opts.at || statusFor(target);
    clearPageError();
    // Only the latest result stays on screen: earlier ones would read as this action's.
    [].forEach.call(document.querySelectorAll(".form-status"), function (b) { b.textContent = ""; });
    box.textContent = "";
    if (isForm) controlsOf(target).forEach(clearFieldError);
    if (isForm) {
      var empty = controlsOf(target).filter(function (c) { return c.required && !c.disabled && !String(c.value).trim() && c.offsetParent !== null; });
      if (empty.length) {
        empty.forEach(function (c, i) { fieldError(c, t("ls.required", { field: lang === "en" ? labelOf(c).toLowerCase() : labelOf(c) }), i === 0); });
        return undefined;
      }
    }
    controls.forEach(function (c) { c.disabled = true; });
    var r, err = null;
    try { r = await fn(); } catch (e) { err = e; }
    controls.forEach(function (c) { c.disabled = false; });
    if (err) {
      var f = err.field || (typeof opts.field === "function" ? opts.field(err) : opts.field);
      if (!f && isForm && opts.field !== false) { var texts = textControls(target); if (texts.length === 1) f = texts[0]; }
      if (f && document.contains(f)) fieldError(f, err.message);
      else report(document.contains(box) ? box : document.contains(target) ? statusFor(target) : document.getElementById("status"), err.message, "error");
      return undefined;
    }
    if (ok) {
      var msg = typeof ok === "function" ? ok(r) : ok;
      if (msg) report(document.contains(box) ? box : (document.contains(target) ? statusFor(target) : document.getElementById("status")), msg, "ok", opts.focus);
    }
    return r;
  }

  // copyButton copies the text of el (or a string) and says so on the button.
  function copyButton(el, label) {
    var b = h("button", { type: "button", class: "small", "data-copy": "" }, label || t("ls.copy"));
    b.addEventListener("click", async function () {
      var text = typeof el === "string" ? el : (el.value !== undefined && el.tagName !== "DIV" ? el.value : el.textContent);
      try { await navigator.clipboard.writeText(text); b.textContent = t("ls.copied"); }
      catch (e) {
        var range = document.createRange();
        if (typeof el !== "string") { range.selectNodeContents(el); var sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); }
        b.textContent = t("ls.selected");
      }
      setTimeout(function () { b.textContent = label || t("ls.copy"); }, 2500);
    });
    return b;
  }

  // secondStepField is the code field of a change that could take the account from its person
  // (mfa.Service.ConfirmChange): with two-step verification on, a code of the authenticator
  // app or a recovery code (label on); with it off, a code mailed to the person, which the
  // field's button asks for (sendConfirmationCode; label off). setOn switches between the two;
  // value is the code typed, or null. A person with a passkey (the "ls:passkeys" event says how
  // many) may instead confirm with it: its button fills the field with the confirmation
  // finishPasskeyConfirmation gives.
  var passkeysCounted = 0;
  document.addEventListener("ls:passkeys", function (ev) { passkeysCounted = ev.detail; });
  function secondStepField(id, on, off) {
    var input = h("input", { id: id, name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code",
      maxlength: "64", spellcheck: "false" });
    var label = h("label", { for: id }, off);
    var send = h("button", { type: "button", class: "small", id: id + "-send" }, t("ls.send_code"));
    send.addEventListener("click", function () {
      busy(send, async function () {
        var d = await gql("mutation SendConfirmationCode { sendConfirmationCode(input: {}) { sentTo } }");
        // The code is typed next: the field keeps the focus (the status line is announced).
        input.focus();
        return d.sendConfirmationCode.sentTo;
      }, function (to) { return t("ls.code_sent", { email: to }); }, { focus: false });
    });
    var passkey = h("button", { type: "button", class: "small", id: id + "-passkey", hidden: true }, t("ls.use_passkey"));
    passkey.addEventListener("click", function () {
      busy(passkey, async function () {
        var b = await gql("mutation BeginPasskeyConfirmation { beginPasskeyConfirmation(input: {}) { options } }");
        var cred = await navigator.credentials.get({ publicKey: window.LSPasskey.requestOptions(b.beginPasskeyConfirmation.options) });
        var d = await gql("mutation FinishPasskeyConfirmation($credential: String!) { finishPasskeyConfirmation(input: {credential: $credential}) { code } }",
          { credential: window.LSPasskey.credentialJSON(cred) });
        input.value = d.finishPasskeyConfirmation.code;
      }, t("ls.passkey_confirmed"));
    });
    function offerPasskey(n) { passkey.hidden = !(n > 0 && window.LSPasskey && window.LSPasskey.supported); }
    // A field made after the passkeys were counted (the app's set-up) offers them at once.
    offerPasskey(passkeysCounted);
    document.addEventListener("ls:passkeys", function (ev) { offerPasskey(ev.detail); });
    return {
      field: h("div", { class: "field second-step" }, label, h("div", { class: "row" }, input, send, passkey)), input: input,
      setOn: function (twoStep) { label.textContent = twoStep ? on : off; send.hidden = twoStep; },
      value: function () { return input.value.trim() || null; }
    };
  }

  // confirmButton asks for a second click before acting (no blocking dialogs).
  function confirmButton(label, confirmLabel, cls, act, ok, opts) {
    var armed = false, timer = null;
    var b = h("button", { type: "button", class: cls || "small" }, label);
    function disarm() { armed = false; clearTimeout(timer); b.textContent = label; b.classList.remove("danger"); }
    b.addEventListener("click", async function () {
      if (!armed) {
        armed = true;
        b.textContent = confirmLabel;
        b.classList.add("danger");
        timer = setTimeout(disarm, 6000);
        return;
      }
      disarm();
      await busy(b, act, ok, opts);
    });
    return b;
  }

  function edges(conn) { return conn && conn.edges ? conn.edges.map(function (e) { return e.node; }) : []; }

  window.LS = { gql: gql, download: download, post: post, h: h, fill: fill, say: say, date: date, dateTime: dateTime, number: number, count: count,
    icon: icon, initial: initial, busy: busy, confirmButton: confirmButton, edges: edges, fieldError: fieldError, clearFieldError: clearFieldError,
    invalid: invalid, report: report, statusFor: statusFor, copyButton: copyButton, plural: count, num: number,
    t: t, has: has, lang: lang, errorMessage: errorMessage, secondStepField: secondStepField };
})();

/* LoginSign widgets v1 — https://<host>/widgets/v1/loginsign.js
 *
 * <script src="https://<host>/widgets/v1/loginsign.js" async></script>
 * <div data-loginsign-button data-client-id="…" data-redirect-uri="…"></div>
 * <div data-loginsign-banner data-client-id="…" data-redirect-uri="…" data-position="bottom-right"></div>
 * <div data-loginsign-login-page data-client-id="…" data-redirect-uri="…"></div>
 * <div data-loginsign-user-menu data-name="Ann" data-image="https://…" data-global-id="AB1234" data-logout-url="/logout"></div>
 *
 * or window.LoginSign.render(element, {widget: "button", clientId: "…", redirectUri: "…", …}).
 *
 * Every widget ends in the authorization code flow: the top window goes to /oauth/authorize and
 * comes back to the app's redirect URI with ?code=…&state=…; the app's backend exchanges the code.
 * No token ever passes through the browser. The state is generated here (unless given) and kept
 * in sessionStorage under "loginsign:state" for the app's callback page to compare. An app that
 * binds its codes with PKCE and its id_tokens with a nonce passes them from its backend:
 * data-code-challenge="…" (data-code-challenge-method, default S256) and data-nonce="…", or
 * the options codeChallenge, codeChallengeMethod and nonce.
 */
(function () {
  "use strict";
  if (window.LoginSign && window.LoginSign.version) return;

  var script = document.currentScript;
  var HOST = script && script.src ? new URL(script.src).origin : location.origin;
  var STATE_KEY = "loginsign:state";
  var KINDS = { button: 1, banner: 1, "login-page": 1, "user-menu": 1 };

  // TEXTS are what the script itself writes on the app's page, in the languages LoginSign
  // speaks (the pages in the frames choose their own). Every language has the keys of "en"
  // (checked by internal/web/widgets' tests).
  var TEXTS = {
    en: { signIn: "Sign in with LoginSign", cont: "Continue with LoginSign", account: "Account",
      menu: ", account menu", dashboard: "LoginSign account", signOut: "Sign out" },
    fr: { signIn: "Se connecter avec LoginSign", cont: "Continuer avec LoginSign", account: "Compte",
      menu: ", menu du compte", dashboard: "Compte LoginSign", signOut: "Se déconnecter" },
    de: { signIn: "Mit LoginSign anmelden", cont: "Weiter mit LoginSign", account: "Konto",
      menu: ", Kontomenü", dashboard: "LoginSign-Konto", signOut: "Abmelden" }
  };

  // texts follows the widget's locale option (a BCP 47 list, as ui_locales), else the page's
  // <html lang>, else the browser's language; English when none is supported.
  function texts(opts) {
    var tries = [opts.locale, document.documentElement.lang, navigator.language];
    for (var i = 0; i < tries.length; i++) {
      var tags = String(tries[i] || "").split(/[\s,]+/);
      for (var j = 0; j < tags.length; j++) {
        var base = tags[j].toLowerCase().split(/[-_]/)[0];
        if (base && Object.prototype.hasOwnProperty.call(TEXTS, base)) return TEXTS[base];
      }
    }
    return TEXTS.en;
  }

  function ensureStyles() {
    if (document.querySelector("link[data-loginsign-css]")) return;
    var l = document.createElement("link");
    l.rel = "stylesheet";
    l.href = HOST + "/widgets/v1/loginsign.css";
    l.setAttribute("data-loginsign-css", "");
    (document.head || document.documentElement).appendChild(l);
  }

  function randomState() {
    var b = new Uint8Array(18);
    crypto.getRandomValues(b);
    var s = "";
    for (var i = 0; i < b.length; i++) s += ("0" + b[i].toString(16)).slice(-2);
    return s;
  }

  // state returns the caller's state or a new one, remembered in sessionStorage.
  function state(opts) {
    var s = opts.state || randomState();
    try { sessionStorage.setItem(STATE_KEY, s); } catch (e) { /* storage disabled: the app sees no state to compare */ }
    return s;
  }

  function need(opts, key, attr) {
    if (!opts[key]) throw new Error("LoginSign: " + attr + " is required");
    return opts[key];
  }

  // binding adds what ties the sign-in to the app's session, made and kept by the app's
  // backend: its PKCE challenge (codeChallenge, with codeChallengeMethod, S256 unless given;
  // the backend sends the verifier with the code) and its OpenID Connect nonce (nonce, found
  // again in the id_token). LoginSign refuses a method other than S256.
  function binding(q, opts) {
    if (opts.codeChallenge || opts.codeChallengeMethod) {
      if (opts.codeChallenge) q.set("code_challenge", opts.codeChallenge);
      q.set("code_challenge_method", opts.codeChallengeMethod || "S256");
    }
    if (opts.nonce) q.set("nonce", opts.nonce);
    return q;
  }

  function authorizeURL(opts) {
    var q = new URLSearchParams({
      client_id: need(opts, "clientId", "client-id"),
      redirect_uri: need(opts, "redirectUri", "redirect-uri"),
      response_type: "code",
      scope: opts.scope || "openid email profile",
      state: state(opts)
    });
    binding(q, opts);
    if (opts.locale) q.set("ui_locales", opts.locale);
    return HOST + "/oauth/authorize?" + q.toString();
  }

  function theme(opts) {
    var t = opts.theme || "auto";
    if (t === "auto") t = window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    return t === "dark" ? "dark" : "light";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function oneOf(v, allowed, dflt) { return allowed.indexOf(v) >= 0 ? v : dflt; }

  function button(host, opts) {
    var label = opts.label || texts(opts).signIn;
    var size = oneOf(opts.size, ["small", "medium", "large"], "medium");
    var shape = oneOf(opts.shape, ["rect", "pill", "circle"], "rect");
    var mode = oneOf(opts.mode, ["redirect", "popup"], "redirect");
    var t = theme(opts);
    var a = el("a", "loginsign-btn loginsign-" + size + " loginsign-" + shape + " loginsign-" + t);
    a.href = authorizeURL(opts);
    a.setAttribute("data-loginsign-mode", mode);
    var icon = el("img", "loginsign-icon");
    icon.alt = "";
    icon.src = HOST + "/brand/icon-" + (t === "dark" ? "dark" : "light") + ".svg";
    a.appendChild(icon);
    if (shape === "circle") a.setAttribute("aria-label", label);
    else a.appendChild(el("span", "", label));
    a.addEventListener("click", function (ev) {
      // A fresh state per attempt; the href is refreshed for middle-clicks too.
      a.href = authorizeURL(opts);
      if (mode !== "popup") return;
      ev.preventDefault();
      var w = 480, h = 640;
      var left = (screen.width - w) / 2, top = (screen.height - h) / 2;
      var popup = window.open(a.href, "loginsign", "popup,width=" + w + ",height=" + h + ",left=" + left + ",top=" + top);
      if (!popup) location.assign(a.href); // blocked: fall back to redirect
    });
    host.textContent = "";
    host.appendChild(a);
    return a;
  }

  // The app's callback page (its redirect URI, same origin as this page) may tell the opener
  // that a popup sign-in finished: window.opener.postMessage({type: "loginsign:signed-in"}, origin).
  window.addEventListener("message", function (ev) {
    if (ev.origin !== location.origin || !ev.data || ev.data.type !== "loginsign:signed-in") return;
    document.dispatchEvent(new CustomEvent("loginsign:signed-in", { detail: ev.data }));
  });

  function frame(src, title, cls) {
    var f = el("iframe", cls);
    f.src = src;
    f.title = title;
    return f;
  }

  var DISMISS_KEY = "loginsign:banner-dismissed";

  function banner(host, opts) {
    try { if (localStorage.getItem(DISMISS_KEY)) return null; } catch (e) { /* no storage: show */ }
    var pos = oneOf(opts.position, ["top-right", "top-left", "bottom-right", "bottom-left"], "top-right");
    need(opts, "redirectUri", "redirect-uri");
    var q = new URLSearchParams({ client_id: need(opts, "clientId", "client-id"), position: pos });
    if (opts.locale) q.set("ui_locales", opts.locale);
    var f = frame(HOST + "/embed/banner?" + q.toString(), texts(opts).cont, "loginsign-banner loginsign-" + pos);
    f.classList.add("loginsign-pending"); // shown once the banner says it has someone to offer
    window.addEventListener("message", function (ev) {
      if (ev.origin !== HOST || ev.source !== f.contentWindow || !ev.data) return;
      switch (ev.data.type) {
        case "loginsign:banner-ready": f.classList.remove("loginsign-pending"); break;
        case "loginsign:banner-empty": f.remove(); break;
        case "loginsign:banner-dismiss":
          try { localStorage.setItem(DISMISS_KEY, "1"); } catch (e) { /* not remembered */ }
          f.remove();
          break;
        case "loginsign:banner-continue": window.top.location.assign(authorizeURL(opts)); break;
      }
    });
    host.textContent = "";
    host.appendChild(f);
    return f;
  }

  function loginPage(host, opts) {
    var q = new URLSearchParams({
      client_id: need(opts, "clientId", "client-id"),
      redirect_uri: need(opts, "redirectUri", "redirect-uri"),
      scope: opts.scope || "openid email profile",
      state: state(opts)
    });
    binding(q, opts);
    if (opts.locale) q.set("ui_locales", opts.locale);
    var f = frame(HOST + "/embed/login?" + q.toString(), texts(opts).signIn, "loginsign-login-page");
    host.textContent = "";
    host.appendChild(f);
    return f;
  }

  function userMenu(host, opts) {
    var t = texts(opts);
    var name = opts.name || opts.globalId || t.account;
    var d = el("details", "loginsign-menu loginsign-" + theme(opts));
    var s = el("summary", "loginsign-menu-summary");
    // The name starts the accessible name, as it starts the visible text (WCAG 2.5.3).
    s.setAttribute("aria-label", name + t.menu);
    var avatar;
    if (opts.image && /^https:\/\//.test(opts.image)) {
      avatar = el("img", "loginsign-avatar");
      avatar.alt = "";
      avatar.src = opts.image;
    } else {
      // The initial is drawn by CSS (attr()), so it is not part of the visible text that
      // the accessible name must contain.
      avatar = el("span", "loginsign-avatar");
      avatar.setAttribute("data-initial", name.charAt(0).toUpperCase());
    }
    avatar.setAttribute("aria-hidden", "true");
    s.appendChild(avatar);
    s.appendChild(el("span", "loginsign-menu-name", name));
    d.appendChild(s);
    var panel = el("div", "loginsign-menu-panel");
    var who = el("div", "loginsign-menu-who");
    who.appendChild(el("strong", "", name));
    if (opts.globalId) who.appendChild(el("span", "loginsign-menu-id", opts.globalId));
    panel.appendChild(who);
    var acct = el("a", "", t.dashboard);
    acct.href = HOST + "/dashboard";
    acct.target = "_blank";
    acct.rel = "noopener";
    panel.appendChild(acct);
    if (opts.logoutUrl) {
      var out = el("a", "", t.signOut);
      out.href = opts.logoutUrl;
      panel.appendChild(out);
    }
    d.appendChild(panel);
    // Keep the open panel on screen: it opens towards whichever side has room.
    d.addEventListener("toggle", function () {
      if (!d.open) return;
      panel.classList.remove("loginsign-menu-end");
      var r = panel.getBoundingClientRect(), vw = document.documentElement.clientWidth;
      if (r.right > vw - 8) panel.classList.add("loginsign-menu-end");
    });
    host.textContent = "";
    host.appendChild(d);
    return d;
  }

  var RENDER = { button: button, banner: banner, "login-page": loginPage, "user-menu": userMenu };

  // render draws widget opts.widget (button, banner, login-page, user-menu) into el.
  function render(host, opts) {
    opts = opts || {};
    var kind = opts.widget || "button";
    if (!KINDS[kind]) throw new Error("LoginSign: unknown widget " + kind);
    ensureStyles();
    return RENDER[kind](host, opts);
  }

  function camel(s) { return s.replace(/-([a-z])/g, function (_, c) { return c.toUpperCase(); }); }

  function optionsOf(node) {
    var o = {};
    for (var i = 0; i < node.attributes.length; i++) {
      var a = node.attributes[i];
      if (a.name.indexOf("data-") === 0 && a.name.indexOf("data-loginsign") !== 0) o[camel(a.name.slice(5))] = a.value;
    }
    return o;
  }

  function scan(root) {
    Object.keys(KINDS).forEach(function (kind) {
      var nodes = (root || document).querySelectorAll("[data-loginsign-" + kind + "]:not([data-loginsign-rendered])");
      for (var i = 0; i < nodes.length; i++) {
        var o = optionsOf(nodes[i]);
        o.widget = kind;
        nodes[i].setAttribute("data-loginsign-rendered", "");
        try { render(nodes[i], o); } catch (e) { console.warn(e.message); }
      }
    });
  }

  window.LoginSign = { version: "1", host: HOST, render: render, scan: scan, authorizeURL: authorizeURL };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { scan(); });
  else scan();
})();

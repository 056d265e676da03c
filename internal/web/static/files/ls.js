// ls.js: the few helpers the dashboard and portal scripts share. A client of /graphql (same
// origin, session cookie), a DOM builder that never parses HTML strings, and formatting.
(function () {
  "use strict";

  // gql runs a GraphQL operation and returns its data; errors throw an Error whose message is
  // the server's (and whose code is extensions.code).
  async function gql(query, variables) {
    var res;
    try {
      res = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ query: query, variables: variables || {} })
      });
    } catch (e) {
      throw new Error("LoginSign could not be reached. Check your connection and try again.");
    }
    var body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (body && body.errors && body.errors.length) {
      var err = new Error(body.errors.map(function (e) { return e.message; }).join("; "));
      err.code = body.errors[0].extensions && body.errors[0].extensions.code;
      err.data = body.data;
      console.warn("LoginSign GraphQL:", err.message);
      if (err.code === "unauthorized") location.assign("/login?return_to=" + encodeURIComponent(location.pathname + location.search));
      throw err;
    }
    if (!res.ok || !body) throw new Error("Request failed (" + res.status + ").");
    return body.data;
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
    el.textContent = "";
    for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  // say shows a message in the page's live region (#status).
  function say(msg, kind) {
    var s = document.getElementById("status");
    if (!s) return;
    fill(s, h("div", { class: "alert " + (kind || "ok") }, msg));
    if (kind === "error") s.scrollIntoView({ block: "nearest" });
  }

  // One date and number style on every page (docs/glossary.md): "30 Nov 2026",
  // "30 Nov 2026, 14:05" (24-hour, the browser's time zone), "1,234", "—" for nothing.
  var dateFmt = new Intl.DateTimeFormat("en-GB", { year: "numeric", month: "short", day: "numeric" });
  var dateTimeFmt = new Intl.DateTimeFormat("en-GB", { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  var numberFmt = new Intl.NumberFormat("en-US");

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

  // busy disables a form or button while fn runs, then reports the outcome.
  async function busy(target, fn, ok) {
    var controls = target.tagName === "FORM" ? target.querySelectorAll("button, input, select, textarea") : [target];
    controls.forEach(function (c) { c.disabled = true; });
    try {
      var r = await fn();
      if (ok) say(typeof ok === "function" ? ok(r) : ok, "ok");
      return r;
    } catch (e) {
      say(e.message, "error");
      return undefined;
    } finally {
      controls.forEach(function (c) { c.disabled = false; });
    }
  }

  // confirmButton asks for a second click before acting (no blocking dialogs).
  function confirmButton(label, confirmLabel, cls, act) {
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
      await busy(b, act);
    });
    return b;
  }

  function edges(conn) { return conn && conn.edges ? conn.edges.map(function (e) { return e.node; }) : []; }

  window.LS = { gql: gql, h: h, fill: fill, say: say, date: date, dateTime: dateTime, number: number, count: count,
    icon: icon, initial: initial, busy: busy, confirmButton: confirmButton, edges: edges };
})();

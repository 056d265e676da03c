// charts.js draws the portal's small charts without a library: Charts.line for a count per day
// and Charts.bars for counts per category. Only the plotted shapes are SVG (stretched to the
// box, strokes not scaled); every label, axis tick and tooltip is HTML text at the page's font
// size, so it stays readable on a phone. Each chart also carries its numbers as a table for
// screen readers (and anyone who wants them). Colours come from app.css, so dark mode just works.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function s(tag, attrs) {
    var el = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }
  function e(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }
  // The glossary's formats (docs/glossary.md): "1,234", "3 Nov 2026", on the axis "3 Nov"; in
  // another page language (<html lang>) that language's ("1 234", "3 nov. 2026"; "1.234", "3. Nov. 2026").
  // Text comes from the page's script messages ("charts.*", LS.t).
  var lang = window.LS && LS.lang && LS.lang !== "en" ? LS.lang : "";
  var T = window.LS ? LS.t : function (k) { return k; };
  var numberFmt = new Intl.NumberFormat(lang || "en-US");
  var dayFmt = new Intl.DateTimeFormat(lang || "en-GB", { month: "short", day: "numeric", timeZone: "UTC" });
  var longDayFmt = new Intl.DateTimeFormat(lang || "en-GB", { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
  function num(n) { return numberFmt.format(n || 0); }

  // dayLabel reads "2026-11-03" as "3 Nov" (or "3 Nov 2026"); days are UTC on the server.
  function dayLabel(day, long) {
    var d = new Date(day + "T00:00:00Z");
    if (isNaN(d)) return day;
    return (long ? longDayFmt : dayFmt).format(d);
  }

  // niceMax rounds max up to 1, 2 or 5 times a power of ten, so the axis reads in round numbers.
  function niceMax(max) {
    if (max <= 4) return Math.max(1, max);
    var p = Math.pow(10, Math.floor(Math.log10(max)));
    var m = [1, 2, 5, 10].find(function (k) { return k * p >= max; });
    return m * p;
  }

  function dataTable(caption, head, rows) {
    var d = e("details", "chart-data");
    d.appendChild(e("summary", "", T("charts.show_numbers")));
    var t = e("table");
    t.appendChild(e("caption", "visually-hidden", caption));
    var tr = e("tr");
    head.forEach(function (x) { var th = e("th", "", x); th.scope = "col"; tr.appendChild(th); });
    var thead = e("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    var body = e("tbody");
    rows.forEach(function (r) { var row = e("tr"); r.forEach(function (x) { row.appendChild(e("td", "", x)); }); body.appendChild(row); });
    t.appendChild(body);
    var wrap = e("div", "table-wrap");
    wrap.appendChild(t);
    d.appendChild(wrap);
    return d;
  }

  // line: points = [{label: "2026-11-01", value: 3}, …]; opts.amount(n) writes a count with its
  // noun ("3 sign-ups"); else opts.unit names one count ("sign-up").
  function line(points, label, opts) {
    opts = opts || {};
    var unit = opts.unit || "", units = opts.units || unit + "s";
    var amount = opts.amount || function (v) { return num(v) + " " + (v === 1 ? unit : units); };
    var n = points.length;
    var max = niceMax(Math.max.apply(null, [0].concat(points.map(function (p) { return p.value; }))));
    var fig = e("figure", "chart line-chart");
    var body = e("div", "chart-body");
    var yAxis = e("div", "y-axis");
    yAxis.setAttribute("aria-hidden", "true");
    [max, max / 2, 0].forEach(function (v) { yAxis.appendChild(e("span", "", Number.isInteger(v) ? num(v) : "")); });
    var plot = e("div", "plot");
    plot.tabIndex = 0;
    plot.setAttribute("role", "img");
    var total = points.reduce(function (a, p) { return a + p.value; }, 0);
    plot.setAttribute("aria-label", n ? T("charts.line_label", { chart: label, amount: amount(total), from: dayLabel(points[0].label, true), to: dayLabel(points[n - 1].label, true) })
      : T("charts.line_label_empty", { chart: label, amount: amount(total) }));
    var svg = s("svg", { viewBox: "0 0 100 100", preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" });
    [0, 50].forEach(function (y) { svg.appendChild(s("line", { class: "grid-line", x1: 0, x2: 100, y1: y, y2: y, "vector-effect": "non-scaling-stroke" })); });
    svg.appendChild(s("line", { class: "axis", x1: 0, x2: 100, y1: 100, y2: 100, "vector-effect": "non-scaling-stroke" }));
    var x = function (i) { return n > 1 ? 100 * i / (n - 1) : 50; };
    var y = function (v) { return 100 * (1 - v / max); };
    if (n) {
      var d = points.map(function (p, i) { return (i ? "L" : "M") + x(i).toFixed(2) + " " + y(p.value).toFixed(2); }).join(" ");
      svg.appendChild(s("path", { class: "area", d: d + " L" + x(n - 1).toFixed(2) + " 100 L" + x(0).toFixed(2) + " 100 Z" }));
      svg.appendChild(s("path", { class: "line", d: d, "vector-effect": "non-scaling-stroke" }));
    }
    plot.appendChild(svg);
    var dot = e("span", "dot");
    var tip = e("div", "tip");
    dot.hidden = tip.hidden = true;
    plot.appendChild(dot);
    plot.appendChild(tip);
    body.appendChild(yAxis);
    body.appendChild(plot);
    fig.appendChild(body);

    // Five dates along the axis (or every day when there are fewer).
    var xAxis = e("div", "x-axis");
    xAxis.setAttribute("aria-hidden", "true");
    var ticks = n <= 5 ? points.map(function (_, i) { return i; }) : [0, 1, 2, 3, 4].map(function (k) { return Math.round(k * (n - 1) / 4); });
    ticks.forEach(function (i) {
      var t = e("span", "", dayLabel(points[i].label));
      t.style.left = x(i) + "%";
      if (i === 0) t.className = "first"; else if (i === n - 1) t.className = "last";
      xAxis.appendChild(t);
    });
    body.appendChild(e("span"));
    body.appendChild(xAxis);

    var at = -1;
    function show(i) {
      if (!n) return;
      at = Math.max(0, Math.min(n - 1, i));
      var p = points[at];
      dot.hidden = tip.hidden = false;
      dot.style.left = x(at) + "%";
      dot.style.top = y(p.value) + "%";
      tip.textContent = dayLabel(p.label, true) + ": " + amount(p.value);
      tip.style.left = x(at) + "%";
      tip.classList.toggle("flip", x(at) > 60);
    }
    function hide() { dot.hidden = tip.hidden = true; }
    plot.addEventListener("pointermove", function (ev) {
      var r = plot.getBoundingClientRect();
      show(Math.round((ev.clientX - r.left) / r.width * (n - 1)));
    });
    plot.addEventListener("pointerleave", function () { if (document.activeElement !== plot) hide(); });
    plot.addEventListener("focus", function () { show(at < 0 ? n - 1 : at); });
    plot.addEventListener("blur", hide);
    plot.addEventListener("keydown", function (ev) {
      var step = { ArrowLeft: -1, ArrowRight: 1, Home: -n, End: n }[ev.key];
      if (step === undefined) return;
      ev.preventDefault();
      show((at < 0 ? n - 1 : at) + step);
    });
    fig.appendChild(dataTable(label, [T("charts.day"), opts.column || T("charts.count")], points.map(function (p) { return [dayLabel(p.label, true), num(p.value)]; })));
    return fig;
  }

  // bars: items = [{label: "Germany", value: 12}, …]; opts.sort orders largest first, opts.max
  // keeps that many. Labels, bars and values are HTML rows.
  function bars(items, label, opts) {
    opts = opts || {};
    items = items.slice();
    if (opts.sort !== false) items.sort(function (a, b) { return b.value - a.value; });
    if (opts.max) items = items.slice(0, opts.max);
    var max = Math.max(1, Math.max.apply(null, items.map(function (i) { return i.value; })));
    var total = items.reduce(function (a, i) { return a + i.value; }, 0);
    var fig = e("figure", "chart bar-chart");
    var list = e("ul", "bars");
    list.setAttribute("aria-label", label);
    items.forEach(function (it) {
      var li = e("li");
      var name = e("span", "bar-label", it.label || T("charts.unknown"));
      var track = e("span", "bar-track");
      var bar = e("span", "bar");
      bar.style.width = Math.max(it.value ? 2 : 0, 100 * it.value / max) + "%";
      track.appendChild(bar);
      var pct = total ? Math.round(100 * it.value / total) : 0;
      var val = e("span", "bar-value", num(it.value));
      li.title = (it.label || T("charts.unknown")) + ": " + num(it.value) + (total ? " (" + pct + "%)" : "");
      li.appendChild(name);
      li.appendChild(track);
      li.appendChild(val);
      list.appendChild(li);
    });
    fig.appendChild(list);
    return fig;
  }

  // headline: a big number with what it counts, for the top of a card or a row of stats.
  function headline(value, what, note) {
    var d = e("div", "headline");
    d.appendChild(e("span", "stat", num(value)));
    d.appendChild(e("span", "stat-label", what));
    if (note) d.appendChild(e("span", "small muted", note));
    return d;
  }

  window.Charts = { line: line, bars: bars, headline: headline, dayLabel: dayLabel };
})();

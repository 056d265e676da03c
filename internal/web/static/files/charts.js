// charts.js draws small inline-SVG charts (no library): Charts.line for a series over days and
// Charts.bars for a ranked list. Colours come from app.css classes, so dark mode just works.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function s(tag, attrs, text) {
    var el = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function frame(w, hgt, label) {
    var svg = s("svg", { viewBox: "0 0 " + w + " " + hgt, role: "img", "aria-label": label });
    svg.appendChild(s("title", {}, label));
    return svg;
  }

  // line: points = [{label: "2026-11-01", value: 3}, …]
  function line(points, label) {
    var W = 600, H = 200, L = 32, B = 24, T = 10, R = 8;
    var svg = frame(W, H, label);
    var max = Math.max(1, Math.max.apply(null, points.map(function (p) { return p.value; })));
    var n = Math.max(points.length - 1, 1);
    var x = function (i) { return L + (W - L - R) * i / n; };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    svg.appendChild(s("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    svg.appendChild(s("text", { x: 2, y: T + 8 }, String(max)));
    svg.appendChild(s("text", { x: 2, y: H - B }, "0"));
    if (points.length) {
      var d = points.map(function (p, i) { return (i ? "L" : "M") + x(i).toFixed(1) + " " + y(p.value).toFixed(1); }).join(" ");
      svg.appendChild(s("path", { class: "area", d: d + " L" + x(points.length - 1).toFixed(1) + " " + (H - B) + " L" + L + " " + (H - B) + " Z" }));
      svg.appendChild(s("path", { class: "line", d: d }));
      [0, points.length - 1].forEach(function (i) {
        svg.appendChild(s("text", { x: x(i), y: H - 6, "text-anchor": i ? "end" : "start" }, points[i].label));
      });
    }
    return wrap(svg);
  }

  // bars: items = [{label: "Germany", value: 12}, …], drawn largest first.
  function bars(items, label) {
    items = items.slice().sort(function (a, b) { return b.value - a.value; }).slice(0, 8);
    var W = 600, row = 26, H = Math.max(1, items.length) * row + 4, L = 130;
    var svg = frame(W, H, label);
    var max = Math.max(1, Math.max.apply(null, items.map(function (i) { return i.value; })));
    items.forEach(function (it, i) {
      var y0 = i * row + 2;
      svg.appendChild(s("text", { x: 0, y: y0 + 16 }, (it.label || "Unknown").slice(0, 20)));
      svg.appendChild(s("rect", { class: "bar", x: L, y: y0 + 4, rx: 3, height: row - 10, width: Math.max(2, (W - L - 40) * it.value / max) }));
      svg.appendChild(s("text", { x: L + Math.max(2, (W - L - 40) * it.value / max) + 6, y: y0 + 16 }, String(it.value)));
    });
    return wrap(svg);
  }

  function wrap(svg) {
    var d = document.createElement("div");
    d.className = "chart";
    d.appendChild(svg);
    return d;
  }

  window.Charts = { line: line, bars: bars };
})();

/* Draw Plotly figures embedded as <script type="application/json" id="..."> next to
   <div class="plotly-chart" data-figure="...">. No inline script: CSP-friendly. */
(function () {
  "use strict";
  function draw() {
    if (typeof window.Plotly === "undefined") { return; }
    document.querySelectorAll(".plotly-chart[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (!source || el.getAttribute("data-drawn")) { return; }
      var figure = JSON.parse(source.textContent);
      var layout = Object.assign({}, figure.layout || {}, { autosize: true });
      window.Plotly.newPlot(el, figure.data || [], layout, { responsive: true, displaylogo: false });
      el.setAttribute("data-drawn", "true");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

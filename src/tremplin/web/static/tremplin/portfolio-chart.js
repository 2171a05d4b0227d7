/* Draws the Plotly figures of the portfolio pages. The figure is a JSON data block
   (<script type="application/json" id="...">) named by data-plotly-figure; no inline script (CSP).
   With data-plotly-links, clicking a point opens its customdata when it is a path on this site ("/..." or "#..."). */
(function () {
  "use strict";
  function follow(event) {
    var point = event && event.points && event.points[0];
    var target = point && point.customdata;
    if (typeof target === "string" && /^(\/(?!\/)|#)/.test(target)) { window.location.assign(target); }
  }
  function draw() {
    if (!window.Plotly) { return; }
    var targets = document.querySelectorAll("[data-plotly-figure]");
    Array.prototype.forEach.call(targets, function (el) {
      var block = document.getElementById(el.getAttribute("data-plotly-figure"));
      if (!block) { return; }
      var figure = JSON.parse(block.textContent);
      el.classList.add("chart-drawn");
      window.Plotly.newPlot(el, figure.data, figure.layout, { displaylogo: false, responsive: true })
        .then(function () {
          if (el.hasAttribute("data-plotly-links") && el.on) { el.on("plotly_click", follow); }
          el.setAttribute("data-chart-ready", "1");
        });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

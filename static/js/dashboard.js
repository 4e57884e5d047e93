// Dashboard charts. Every chart reads its data from a <script type="application/json">
// block written by Django's json_script (no inline script: CSP), and the same numbers are
// in the table under it, so the page reads fully without JavaScript.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }

  // Okabe-Ito: told apart with the common colour-vision deficiencies.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"];
  // A second cue besides colour: point shape and dash pattern per series.
  var POINTS = ["circle", "triangle", "rect", "rectRot", "star", "crossRot", "cross"];
  var DASHES = [[], [6, 4], [2, 3], [8, 3, 2, 3], [], [6, 4], [2, 3]];

  function readData(id) {
    var element = document.getElementById(id);
    if (!element) { return null; }
    try { return JSON.parse(element.textContent); } catch (error) { return null; }
  }

  function percentTick(value) { return value + "%"; }

  function build(canvas) {
    var spec = readData(canvas.dataset.chart);
    if (!spec || !spec.labels || !spec.labels.length) { return; }
    var horizontal = !!spec.horizontal;
    var valueAxis = horizontal ? "x" : "y";
    var datasets = spec.datasets.map(function (set, i) {
      var colour = PALETTE[i % PALETTE.length];
      var dataset = {
        label: set.label,
        data: set.data,
        backgroundColor: colour,
        borderColor: colour,
      };
      if (spec.type === "line") {
        dataset.pointStyle = POINTS[i % POINTS.length];
        dataset.pointRadius = 4;
        dataset.borderDash = DASHES[i % DASHES.length];
        dataset.borderWidth = 2;
        dataset.fill = false;
        dataset.spanGaps = true;
      }
      return dataset;
    });
    var scales = {};
    scales[valueAxis] = { beginAtZero: true, ticks: { precision: 0 } };
    if (spec.percent) {
      scales[valueAxis].max = 100;
      scales[valueAxis].ticks = { callback: percentTick };
    }
    if (horizontal) {
      // One bar group per row: give the chart room for every row.
      var rows = spec.labels.length * Math.max(1, datasets.length);
      var box = canvas.parentNode;
      var height = Math.max(10, Math.min(120, 3 + rows * 1.4));
      if (box && box.classList.contains("chart-box") && !box.classList.contains("chart-box-short")) {
        box.style.height = height + "rem";
      }
    }
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: {
          legend: { display: datasets.length > 1, labels: { usePointStyle: spec.type === "line" } },
          tooltip: {
            callbacks: spec.percent ? {
              label: function (context) {
                var v = context.parsed[valueAxis];
                return context.dataset.label + ": " + (v === null ? "—" : v + "%");
              },
            } : {},
          },
        },
      },
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(build);
})();

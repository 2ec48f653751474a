// tierstream HTML reports: draw each entity type's tier distribution from the JSON beside it.
// The tables hold every figure; a chart's card stays hidden when this script cannot run.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var source = document.getElementById("report-charts");
  if (!source) { return; }
  var charts = JSON.parse(source.textContent);
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue("--" + name).trim(); }
  var seriesColours = ["#9ca3af", colour("accent")];
  charts.forEach(function (chart) {
    var canvas = document.getElementById(chart.id);
    if (!canvas) { return; }
    canvas.closest(".chart").hidden = false;
    var single = chart.series.length === 1;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (s, i) {
          return {
            label: s.label,
            data: s.data,
            backgroundColor: single ? chart.colours.map(colour) : seriesColours[i % seriesColours.length],
            borderRadius: 4,
            maxBarThickness: 56
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: !single }, tooltip: { intersect: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } }
      }
    });
  });
})();

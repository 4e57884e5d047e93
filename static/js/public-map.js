// The public map: reports of public categories at blurred points, with kind, status and
// date only (clusters when there are many in view).
(function () {
  "use strict";
  var el = document.getElementById("public-map");
  if (!el || !window.GridMap || !window.fetch) { return; }
  var G = window.GridMap, text = el.dataset;
  var status = document.getElementById("public-map-status");
  var COLOURS = { closed: "#6c757d", resolved: "#0d6efd" };
  var map = G.open(el, "public-map-start");
  G.gridLayer(map);
  var layer = L.featureGroup().addTo(map), latest = 0;

  function draw(data) {
    layer.clearLayers();
    data.markers.forEach(function (m) {
      var words = m.category + " · " + m.statusLabel + " · " + text.textReported + " " + m.date;
      L.circleMarker(G.toDisplay(m.lat, m.lng), {
        radius: 8, color: "#fff", weight: 2, fillOpacity: 0.9,
        fillColor: COLOURS[m.status] || "#fd7e14", className: "report-marker"
      }).bindTooltip(words).bindPopup(words).addTo(layer);
    });
    data.clusters.forEach(function (c) { G.cluster(map, c, text.textCluster).addTo(layer); });
    status.textContent = status.dataset.textCount + " " + data.total + (data.total > 500 ? "+" : "");
  }
  function load() {
    var mine = ++latest;
    G.getJSON(text.pointsUrl + "?bbox=" + G.boxOf(map)).then(function (data) {
      if (mine === latest) { draw(data); }
    }).catch(function () { /* keep what is drawn */ });
  }
  map.on("moveend", load);
  load();
})();

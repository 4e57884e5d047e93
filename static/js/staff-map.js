// The staff map (一张图): the scope's grids, and open issues as markers fetched for the
// visible box (clusters when there are more than the server sends one by one).
(function () {
  "use strict";
  var el = document.getElementById("staff-map");
  if (!el || !window.GridMap || !window.fetch) { return; }
  var G = window.GridMap, text = el.dataset;
  var status = document.getElementById("staff-map-status");
  var scopeGrids = JSON.parse(document.getElementById("staff-map-grids").textContent);
  var COLOURS = { minor: "#198754", urgent: "#fd7e14", difficult: "#dc3545" };

  var map = G.open(el, "staff-map-start");
  G.gridLayer(map, { only: scopeGrids });

  var legend = L.control({ position: "topright" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "map-legend");
    [["minor", text.textLegendMinor], ["urgent", text.textLegendUrgent],
     ["difficult", text.textLegendDifficult]].forEach(function (pair) {
      var row = L.DomUtil.create("div", "", div);
      L.DomUtil.create("span", "dot dot-" + pair[0], row);
      row.appendChild(document.createTextNode(" " + pair[1]));
    });
    L.DomUtil.create("div", "", div).textContent = text.textLegendOverdue;
    return div;
  };
  legend.addTo(map);

  var layer = L.featureGroup().addTo(map), latest = 0;
  var filters = new URLSearchParams(window.location.search);

  function popup(m) {
    var div = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = m.title;
    div.appendChild(title);
    var facts = [m.number, m.severityLabel, m.statusLabel];
    if (m.overdue) { facts.push(text.textOverdue); }
    if (m.supervised) { facts.push(text.textSupervised); }
    if (m.supporters) { facts.push("+" + m.supporters + " " + text.textSupporters); }
    var p = document.createElement("div");
    p.textContent = facts.join(" · ");
    div.appendChild(p);
    var a = document.createElement("a");
    a.href = m.url;
    a.textContent = text.textOpen;
    div.appendChild(a);
    return div;
  }

  function draw(data) {
    layer.clearLayers();
    data.markers.forEach(function (m) {
      L.circleMarker(G.toDisplay(m.lat, m.lng), {
        radius: m.supervised ? 10 : 8,
        color: m.overdue ? "#b02a37" : "#ffffff",
        weight: m.overdue ? 4 : 2,
        fillColor: COLOURS[m.severity] || "#6c757d",
        fillOpacity: 0.9,
        dashArray: m.supervised ? "4 3" : null,
        className: "issue-marker"
      }).bindPopup(popup(m)).bindTooltip(m.number + " " + m.title).addTo(layer);
    });
    data.clusters.forEach(function (c) { G.cluster(map, c, text.textCluster).addTo(layer); });
    status.textContent = text.textCount + " " + data.total + (data.total > 500 ? "+" : "");
  }

  function load() {
    var params = new URLSearchParams(filters);
    params.set("bbox", G.boxOf(map));
    var mine = ++latest;
    G.getJSON(text.markersUrl + "?" + params.toString()).then(function (data) {
      if (mine === latest) { draw(data); }
    }).catch(function () { /* keep what is drawn */ });
  }
  map.on("moveend", load);
  load();
})();

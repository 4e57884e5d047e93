// The admin's boundary field: a map below the GeoJSON text draws the shape as it is typed
// or pasted (vectors on a plain background when no tiles are configured).
(function () {
  "use strict";
  var box = document.getElementById("boundary-preview");
  if (!box || !window.GridMap) { return; }
  var input = document.getElementById(box.dataset.for);
  var status = document.getElementById("boundary-preview-status");
  var G = window.GridMap;
  var map = G.create(box).setView(G.toDisplay(36.62, 117.13), 13);
  var shape = null, timer = null;
  function draw() {
    var data;
    try { data = JSON.parse(input.value); } catch (e) { data = null; }
    if (!data || (data.type !== "Polygon" && data.type !== "MultiPolygon")) {
      status.textContent = input.value.trim() ? box.dataset.textInvalid : "";
      return;
    }
    status.textContent = "";
    if (shape) { map.removeLayer(shape); }
    shape = G.geoJSON(data, { style: { color: "#0d6efd", weight: 2, fillOpacity: 0.1 } }).addTo(map);
    map.fitBounds(shape.getBounds(), { padding: [8, 8] });
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(draw, 300); });
  draw();
})();

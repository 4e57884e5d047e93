// Hotline intake: find the caller's place by building name or address, or by a pin on the
// map, instead of choosing the grid by hand (the grid list stays, and is the way without
// JavaScript).
(function () {
  "use strict";
  var box = document.querySelector("[data-address-search]");
  if (!box || !window.GridMap || !window.fetch) { return; }
  var G = window.GridMap, text = box.dataset;
  var form = document.getElementById("hotline-form");
  var grid = form.elements.grid, building = form.elements.building;
  var latInput = form.elements.latitude, lngInput = form.elements.longitude;
  var search = document.getElementById("address-search");
  var results = document.getElementById("address-results");
  var status = document.getElementById("hotline-map-status");
  box.hidden = false;
  var map = G.open(document.getElementById("hotline-map"), "hotline-map-start");
  G.gridLayer(map);
  var marker = null, timer = null, latest = 0;

  function chooseGrid(id) {
    var value = id ? String(id) : "";
    grid.value = grid.querySelector('option[value="' + value + '"]') ? value : "";
  }
  function pin(latlng) {
    if (!marker) {
      marker = L.marker(latlng, { draggable: true }).addTo(map);
      marker.on("dragend", function () { placed(marker.getLatLng()); });
    } else { marker.setLatLng(latlng); }
  }
  function placed(latlng) {
    pin(latlng);
    building.value = "";
    var point = G.fromDisplay(latlng);
    latInput.value = point.lat; lngInput.value = point.lng;
    G.getJSON(G.config.placeAtUrl + "?lat=" + point.lat + "&lng=" + point.lng).then(function (place) {
      if (!place.grid) { chooseGrid(null); status.textContent = text.textOutside; return; }
      chooseGrid(place.grid.id);
      status.textContent = text.textGrid + " " + place.grid.community + " · " + place.grid.name;
    });
  }
  function choose(b) {
    building.value = b.id;
    chooseGrid(b.grid.id);
    latInput.value = ""; lngInput.value = "";
    if (b.lat !== null) {
      var here = G.toDisplay(b.lat, b.lng);
      pin(here);
      map.setView(here, Math.max(map.getZoom(), 17));
    }
    results.innerHTML = "";
    status.textContent = text.textChosen + " " + b.community + " · " + b.grid.name + " · " + b.name;
  }
  function lookup() {
    var words = search.value.trim(), mine = ++latest;
    if (words.length < 2) { results.innerHTML = ""; return; }
    G.getJSON(text.lookupUrl + "?q=" + encodeURIComponent(words)).then(function (data) {
      if (mine !== latest) { return; }
      results.innerHTML = "";
      if (!data.buildings.length) { status.textContent = text.textNone; return; }
      data.buildings.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "list-group-item list-group-item-action";
        button.textContent = b.name + (b.address ? "（" + b.address + "）" : "") + " · " + b.grid.name;
        button.addEventListener("click", function () { choose(b); });
        results.appendChild(button);
      });
    });
  }
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(lookup, 250); });
  search.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); lookup(); } });
  map.on("click", function (e) { placed(e.latlng); });
  grid.addEventListener("change", function () { building.value = ""; });
})();

// The report form, map first: tap or drag a pin (or use my location); the grid and the
// nearest building are shown as the pin moves. The building list stays the other way to
// give the place, and the only one without JavaScript.
(function () {
  "use strict";
  var box = document.querySelector("[data-report-map]");
  if (!box || !window.GridMap || !window.fetch) { return; }
  var form = document.getElementById("report-form");
  var latInput = form.querySelector('input[name="latitude"]');
  var lngInput = form.querySelector('input[name="longitude"]');
  var building = form.querySelector('select[name="building"]');
  var status = document.getElementById("report-map-status");
  var clearButton = box.querySelector("[data-pin-clear]");
  var text = box.dataset;
  var G = window.GridMap;
  var NEAR_ENOUGH_M = 80;  // a pin this close to a building files for that building

  box.hidden = false;
  var map = G.open(document.getElementById("report-map"), "report-map-start");
  G.gridLayer(map);

  var marker = null, asked = 0;
  function say(message) { status.textContent = message; }

  function chooseBuilding(found) {
    if (!building) { return; }
    if (!found || found.distance_m > NEAR_ENOUGH_M) { building.value = ""; return; }
    var value = String(found.id);
    if (!building.querySelector('option[value="' + value + '"]')) {
      building.appendChild(new Option(found.name, value));
    }
    building.value = value;
  }

  function describe(latlng) {
    var point = G.fromDisplay(latlng), mine = ++asked;
    latInput.value = point.lat;
    lngInput.value = point.lng;
    say(text.textLooking);
    G.getJSON(G.config.placeAtUrl + "?lat=" + point.lat + "&lng=" + point.lng).then(function (place) {
      if (mine !== asked) { return; }
      if (!place.grid) { chooseBuilding(null); say(text.textOutside); return; }
      chooseBuilding(place.building);
      var words = text.textGrid + " " + place.grid.community + " · " + place.grid.name + ". ";
      words += place.building ?
        text.textBuilding + " " + place.building.name + " (" + place.building.distance_m + " m)." :
        text.textNoBuilding;
      say(words);
      form.dispatchEvent(new CustomEvent("place-changed", { detail: point }));
    }).catch(function () { say(""); });
  }

  function setPin(latlng) {
    if (!marker) {
      marker = L.marker(latlng, { draggable: true, keyboard: true, title: text.textGrid }).addTo(map);
      marker.on("dragend", function () { describe(marker.getLatLng()); });
    } else {
      marker.setLatLng(latlng);
    }
    clearButton.hidden = false;
    describe(latlng);
  }

  function clearPin() {
    if (marker) { map.removeLayer(marker); marker = null; }
    latInput.value = ""; lngInput.value = "";
    clearButton.hidden = true;
    asked += 1;
  }

  map.on("click", function (e) { setPin(e.latlng); });
  box.querySelector("[data-pin-centre]").addEventListener("click", function () { setPin(map.getCenter()); });
  clearButton.addEventListener("click", function () { clearPin(); say(text.textPinRemoved); });
  // Choosing a building by hand gives the place by the building: the pin goes.
  if (building) {
    building.addEventListener("change", function () {
      if (marker) { clearPin(); }
      form.dispatchEvent(new CustomEvent("place-changed"));
    });
  }

  box.querySelector("[data-locate]").addEventListener("click", function () {
    if (!navigator.geolocation) { say(text.textUnsupported); return; }
    say(text.textLocating);
    navigator.geolocation.getCurrentPosition(function (position) {
      var here = G.toDisplay(position.coords.latitude, position.coords.longitude);
      map.setView(here, Math.max(map.getZoom(), 17));
      setPin(here);
    }, function (error) {
      say(error.code === 1 ? text.textDenied : text.textUnavailable);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  // A form sent back with errors keeps its pin.
  if (latInput.value && lngInput.value) {
    setPin(G.toDisplay(latInput.value, lngInput.value));
  }
})();

// Nearby and similar: once the place and the category are known, show the open reports
// of that kind nearby, each with "this is my problem too" (附议).
(function () {
  "use strict";
  var target = document.getElementById("nearby");
  var form = document.getElementById("report-form");
  if (!target || !form || !window.fetch) { return; }
  var latest = 0;
  function refresh() {
    var params = new URLSearchParams();
    ["category", "building", "latitude", "longitude"].forEach(function (name) {
      var field = form.elements[name];
      if (field && field.value) { params.set(name, field.value); }
    });
    if (!params.get("category") || !(params.get("building") || params.get("latitude"))) {
      target.innerHTML = "";
      return;
    }
    var mine = ++latest;
    fetch(target.dataset.url + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { if (mine === latest) { target.innerHTML = html; } })
      .catch(function () { /* filing works without it */ });
  }
  form.addEventListener("place-changed", refresh);
  if (form.elements.category) { form.elements.category.addEventListener("change", refresh); }
  refresh();
})();

// The map module: one Leaflet set-up for every map of the site (report form, staff map,
// public map, boundary preview). Points travel in WGS-84; when the tiles are drawn in
// GCJ-02 (MAP_COORDINATES=gcj02, 高德/腾讯) they are converted for display and back on
// input. With no tile URL, or tiles that cannot be reached, the map is drawn on a plain
// background: grids, buildings and markers are vectors and need no tile server.
(function () {
  "use strict";
  var configEl = document.getElementById("map-config");
  if (!configEl || !window.L) { return; }
  var config = JSON.parse(configEl.textContent);
  var gcj = config.coordinates === "gcj02";

  // --- WGS-84 <-> GCJ-02 (the published "eviltransform" formulas) ------------------------
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  function outOfChina(lat, lng) { return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
    return r;
  }
  function tLng(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
    return r;
  }
  function wgsToGcj(lat, lng) {
    if (outOfChina(lat, lng)) { return [lat, lng]; }
    var dLat = tLat(lng - 105, lat - 35), dLng = tLng(lng - 105, lat - 35);
    var radLat = lat / 180 * PI, magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sq = Math.sqrt(magic);
    dLat = (dLat * 180) / ((A * (1 - EE)) / (magic * sq) * PI);
    dLng = (dLng * 180) / (A / sq * Math.cos(radLat) * PI);
    return [lat + dLat, lng + dLng];
  }
  function gcjToWgs(lat, lng) {
    var wLat = lat, wLng = lng;
    for (var i = 0; i < 6; i++) {  // the forward formula, inverted by iteration (< 0.1 m)
      var g = wgsToGcj(wLat, wLng);
      wLat -= g[0] - lat; wLng -= g[1] - lng;
    }
    return [wLat, wLng];
  }

  // WGS-84 (stored) -> the map's LatLng, and back.
  function toDisplay(lat, lng) {
    var p = gcj ? wgsToGcj(+lat, +lng) : [+lat, +lng];
    return L.latLng(p[0], p[1]);
  }
  function fromDisplay(latlng) {
    var p = gcj ? gcjToWgs(latlng.lat, latlng.lng) : [latlng.lat, latlng.lng];
    return { lat: Math.round(p[0] * 1e6) / 1e6, lng: Math.round(p[1] * 1e6) / 1e6 };
  }
  // The visible box in WGS-84, "west,south,east,north", padded for the GCJ-02 shift.
  function boxOf(map) {
    var b = map.getBounds(), pad = gcj ? 0.01 : 0;
    var sw = fromDisplay(b.getSouthWest()), ne = fromDisplay(b.getNorthEast());
    return [sw.lng - pad, sw.lat - pad, ne.lng + pad, ne.lat + pad]
      .map(function (v) { return v.toFixed(6); }).join(",");
  }

  function note(map, text) {
    var box = L.control({ position: "bottomleft" });
    box.onAdd = function () {
      var div = L.DomUtil.create("div", "map-note");
      div.textContent = text;
      return div;
    };
    box.addTo(map);
  }

  function create(el, options) {
    var map = L.map(el, Object.assign({ zoomSnap: 0.5, tap: true }, options || {}));
    map.attributionControl.setPrefix(false);
    if (config.tilesUrl) {
      var failures = 0;
      var tiles = L.tileLayer(config.tilesUrl, {
        attribution: config.attribution, subdomains: config.tilesSubdomains, maxZoom: 19
      });
      tiles.on("tileerror", function () {
        failures += 1;
        if (failures === 4) {
          el.classList.add("map-plain");
          note(map, config.text.offline);
        }
      });
      tiles.addTo(map);
    } else {
      el.classList.add("map-plain");
      note(map, config.isAdmin ? config.text.plainAdmin : config.text.plain);
    }
    return map;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function geoJSON(data, options) {
    return L.geoJSON(data, Object.assign({
      coordsToLatLng: function (c) { return toDisplay(c[1], c[0]); }
    }, options || {}));
  }

  // Grid boundaries of the visible box, fetched as the map moves. The server simplifies
  // them to the view's pixels, so each is drawn once per level of detail: a view more
  // than twice as close draws it again, finer.
  function gridLayer(map, options) {
    options = options || {};
    var layer = L.featureGroup().addTo(map), drawn = {};
    function load() {
      var bounds = map.getBounds(), width = bounds.getEast() - bounds.getWest();
      getJSON(config.gridsUrl + "?bbox=" + boxOf(map)).then(function (data) {
        data.features.forEach(function (f) {
          var id = f.properties.id, old = drawn[id];
          if (old && old.width <= 2 * width) { return; }
          if (options.only && options.only.indexOf(id) < 0) { return; }
          if (old) { layer.removeLayer(old.layer); }
          drawn[id] = {
            width: width,
            layer: geoJSON(f, {
              style: { color: "#0d6efd", weight: 2, fillOpacity: 0.04, interactive: false }
            }).bindTooltip(f.properties.community + " · " + f.properties.name, { sticky: true })
              .addTo(layer)
          };
        });
        if (options.onload) { options.onload(data); }
      }).catch(function () { /* the map stays usable without boundaries */ });
    }
    map.on("moveend", load);
    load();
    return layer;
  }

  function fitBox(map, south, west, north, east) {
    map.fitBounds(L.latLngBounds(toDisplay(south, west), toDisplay(north, east)), { padding: [8, 8] });
  }

  // A map in ``el`` opened where the page's JSON ``startId`` says ({bbox} or {lat, lng, zoom}).
  function open(el, startId) {
    var map = create(el);
    var start = JSON.parse(document.getElementById(startId).textContent);
    if (start.bbox) { fitBox(map, start.bbox[0], start.bbox[1], start.bbox[2], start.bbox[3]); }
    else { map.setView(toDisplay(start.lat, start.lng), start.zoom); }
    return map;
  }

  // A count standing for many points; a click zooms in on it.
  function cluster(map, c, title) {
    var size = c.count < 100 ? 36 : 44;
    return L.marker(toDisplay(c.lat, c.lng), {
      icon: L.divIcon({ className: "map-cluster", html: String(c.count), iconSize: [size, size] }),
      title: c.count + " " + title, keyboard: true
    }).on("click", function (e) { map.setView(e.latlng, map.getZoom() + 2); });
  }

  window.GridMap = {
    config: config, create: create, open: open, cluster: cluster, toDisplay: toDisplay, fromDisplay: fromDisplay,
    boxOf: boxOf, getJSON: getJSON, geoJSON: geoJSON, gridLayer: gridLayer, fitBox: fitBox,
    wgsToGcj: wgsToGcj, gcjToWgs: gcjToWgs
  };
})();

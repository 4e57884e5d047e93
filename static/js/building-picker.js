// Building picker: narrows the building list as the community, grid or name changes.
// Without it the page works the same way through the "Find" button (a GET reload).
(function () {
  "use strict";
  var finder = document.querySelector("form[data-building-finder]");
  if (!finder || !window.fetch) { return; }
  var target = document.querySelector('select[data-building-picker="' + finder.id + '"]');
  if (!target) { return; }
  function control(name) {
    return document.querySelector('[form="' + finder.id + '"][data-finder="' + name + '"]');
  }
  var community = control("community");
  var grid = control("grid");
  var query = control("q");
  var status = document.getElementById(finder.id + "-status");
  var text = finder.dataset;
  var emptyLabel = target.options.length && target.options[0].value === "" ?
    target.options[0].text : "";
  var latest = 0;
  var timer = null;

  function say(message) { if (status) { status.textContent = message; } }

  function params(withGrid) {
    var parts = [];
    if (community && community.value) { parts.push("community=" + encodeURIComponent(community.value)); }
    if (withGrid && grid && grid.value) { parts.push("grid=" + encodeURIComponent(grid.value)); }
    if (query && query.value.trim()) { parts.push("q=" + encodeURIComponent(query.value.trim())); }
    return parts.join("&");
  }

  function fillGrids(grids) {
    if (!grid) { return; }
    grid.innerHTML = "";
    grid.appendChild(new Option(community.value ? text.textAllGrids : text.textChooseCommunity, ""));
    grids.forEach(function (g) { grid.appendChild(new Option(g.name, String(g.id))); });
  }

  function fillBuildings(data) {
    var previous = target.value;
    var values = [];
    target.innerHTML = "";
    target.appendChild(new Option(emptyLabel, ""));
    data.groups.forEach(function (group) {
      var optgroup = document.createElement("optgroup");
      optgroup.label = group.label;
      group.buildings.forEach(function (b) {
        optgroup.appendChild(new Option(b.label, String(b.id)));
        values.push(String(b.id));
      });
      target.appendChild(optgroup);
    });
    if (values.indexOf(previous) !== -1) {
      target.value = previous;
    } else if (values.length === 1) {
      target.value = values[0];
    } else {
      target.value = "";
    }
    if (!values.length) {
      say(text.textNone);
    } else {
      say(text.textFound.replace("{n}", values.length) + (data.more ? " " + text.textMore : ""));
    }
  }

  function refresh(communityChanged) {
    var mine = ++latest;
    fetch(text.url + "?" + params(!communityChanged), {
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (data) {
      if (mine !== latest) { return; }  // a newer request is on its way
      if (communityChanged) { fillGrids(data.grids); }
      fillBuildings(data);
    }).catch(function () {
      if (mine === latest) { say(text.textError); }
    });
  }

  if (community) { community.addEventListener("change", function () { refresh(true); }); }
  if (grid) { grid.addEventListener("change", function () { refresh(false); }); }
  if (query) {
    query.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { refresh(false); }, 300);
    });
  }
  // "Find" (or Enter in the name box) updates the list in place: nothing typed is lost.
  finder.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    refresh(false);
  });
})();

// Staff workspace: small progressive enhancements; every form works without them.
(function () {
  "use strict";
  // Patrol report: the resolution fields matter only when "settled on the spot" is ticked.
  var settled = document.getElementById("id_settled");
  if (settled) {
    var parts = ["div_id_resolution", "div_id_after_photos"]
      .map(function (id) { return document.getElementById(id); })
      .filter(Boolean);
    var sync = function () {
      parts.forEach(function (part) { part.hidden = !settled.checked; });
    };
    settled.addEventListener("change", sync);
    sync();
  }
})();

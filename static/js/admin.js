// Django's admin, completed for screen readers (Django leaves these parts without a name):
// form controls in tables (inline rows, editable lists) are named after their column, split
// date/time inputs after their field, select2 boxes after their label; the help icons of the
// two-list selector get the role their aria-label needs. Runs again when a row is added.
(function () {
  "use strict";
  function textOf(element) {
    return element ? element.textContent.replace(/\s+/g, " ").replace(/[:：]\s*$/, "").trim() : "";
  }
  function hasName(control) {
    if (control.getAttribute("aria-label") || control.getAttribute("aria-labelledby")) { return true; }
    if (control.closest("label")) { return true; }
    return !!(control.id && document.querySelector('label[for="' + CSS.escape(control.id) + '"]'));
  }
  function columnOf(cell) {
    var table = cell.closest("table");
    var head = table && table.tHead && table.tHead.rows[0];
    var index = Array.prototype.indexOf.call(cell.parentElement.children, cell);
    return head && head.cells[index] ? textOf(head.cells[index]) : "";
  }
  function nameControls() {
    document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (control) {
      if (hasName(control)) { return; }
      var cell = control.closest("td, th");
      var name = cell ? columnOf(cell) : "";
      if (!name) {
        var row = control.closest(".form-row, .fieldBox");
        name = textOf(row && row.querySelector("label"));
        var before = control.previousSibling;
        if (before && before.nodeType === Node.TEXT_NODE && before.textContent.trim()) {
          name += " " + before.textContent.trim().replace(/[:：]$/, "");
        }
      }
      if (name) { control.setAttribute("aria-label", name.trim()); }
    });
    document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var label = select.id && document.querySelector('label[for="' + CSS.escape(select.id) + '"]');
      var box = select.parentElement.querySelector(".select2-selection[role=combobox]");
      if (!box) { return; }
      if (!label) {  // in an inline row: named after its column
        var cell = select.closest("td");
        var name = cell ? columnOf(cell) : "";
        if (name) {
          box.setAttribute("aria-label", name);
          box.querySelectorAll("[role=textbox]").forEach(function (shown) {
            shown.setAttribute("aria-label", name);
          });
        }
        return;
      }
      label.id = label.id || select.id + "-label";
      box.setAttribute("aria-labelledby", label.id);
      box.querySelectorAll("[role=textbox]").forEach(function (shown) {
        shown.setAttribute("aria-labelledby", label.id + " " + shown.id);
      });
    });
    document.querySelectorAll("span[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }
  window.addEventListener("load", function () {
    nameControls();
    // select2 starts on jQuery's ready, which may come after the load event: name it then.
    if (window.django && window.django.jQuery) { window.django.jQuery(nameControls); }
  });
  document.addEventListener("formset:added", nameControls);
})();

// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // A form is sent once: a double-click or a second tap does not file twice.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
  // A form that can carry photos goes as multipart only when it carries some: without
  // them it is sent as plain form data, which the server reads several times faster.
  document.querySelectorAll('form[enctype="multipart/form-data"]').forEach(function (form) {
    form.addEventListener("submit", function () {
      var files = Array.prototype.some.call(form.elements, function (field) {
        return field.type === "file" && field.files && field.files.length > 0;
      });
      form.enctype = files ? "multipart/form-data" : "application/x-www-form-urlencoded";
    });
  });
})();

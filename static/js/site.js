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
  // A phone's photo larger than the server keeps (data-max-side, in pixels) is shrunk on
  // the phone as soon as it is chosen: it then costs a resident on mobile data a fifth of
  // the upload. The server checks and re-encodes it all the same; where the browser
  // cannot shrink it, the photo goes as it was chosen.
  document.querySelectorAll("input[type=file][data-max-side]").forEach(function (input) {
    input.addEventListener("change", function () {
      var side = parseInt(input.dataset.maxSide, 10);
      var chosen = Array.prototype.slice.call(input.files || []);
      if (!side || !chosen.length || !window.createImageBitmap || !window.DataTransfer) return;
      var buttons = input.form ? input.form.querySelectorAll("button[type=submit]") : [];
      input.setAttribute("aria-busy", "true");
      buttons.forEach(function (b) { b.disabled = true; });
      Promise.all(chosen.map(function (file) { return shrunk(file, side); }))
        .then(function (files) {
          if (!files.some(function (file, i) { return file !== chosen[i]; })) return;
          var kept = new DataTransfer();
          files.forEach(function (file) { kept.items.add(file); });
          input.files = kept.files;
        })
        .catch(function () { /* the photos go as they were chosen */ })
        .then(function () {
          input.removeAttribute("aria-busy");
          buttons.forEach(function (b) { b.disabled = false; });
        });
    });
  });

  // The JPEG drawn upright (its EXIF orientation applied) at most `side` pixels on its
  // longer side, or the file itself when it is no larger or cannot be drawn.
  function shrunk(file, side) {
    if (file.type !== "image/jpeg") return Promise.resolve(file);
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = side / Math.max(bitmap.width, bitmap.height);
      if (scale >= 1) { bitmap.close(); return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          var smaller = blob && blob.size < file.size;
          resolve(smaller ? new File([blob], file.name, { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.9);
      });
    }).catch(function () { return file; });
  }
})();

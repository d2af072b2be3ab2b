// The verifier page: after a check, the verdict gets focus (read out first); an image pasted
// anywhere on the page is taken as the QR photo; a phone camera's photo (several MB) is
// shrunk on the device to at most 1600 px before it is sent, so it fits the 1 MB upload.
(function () {
  "use strict";
  var LIMIT = 900 * 1024;
  var EDGE = 1600;
  var result = document.getElementById("result");
  if (result) { result.focus(); }
  var input = document.getElementById("image");
  var form = document.getElementById("verify-form");
  if (!input || !form) { return; }

  function encode(bitmap, edge) {
    var scale = Math.min(1, edge / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) { if (blob) { resolve(blob); } else { reject(); } },
        "image/jpeg", 0.85);
    });
  }

  // Smaller and smaller until it fits (a photo of a screen usually fits at once); a QR
  // stays readable down to about 600 px for the whole picture.
  function shrink(file) {
    return createImageBitmap(file).then(function (bitmap) {
      function attempt(edge) {
        return encode(bitmap, edge).then(function (blob) {
          return blob.size <= LIMIT || edge <= 600 ? blob : attempt(Math.round(edge * 0.75));
        });
      }
      return attempt(EDGE);
    });
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file || file.size <= LIMIT || typeof DataTransfer === "undefined") { return; }
    event.preventDefault();
    shrink(file).then(function (blob) {
      var chosen = new DataTransfer();
      chosen.items.add(new File([blob], "photo.jpg", { type: "image/jpeg" }));
      input.files = chosen.files;
      form.submit();  // no submit event again: the photo is small now
    }, function () {
      form.submit();  // not an image the browser can read: the server says so in words
    });
  });

  document.addEventListener("paste", function (event) {
    var items = (event.clipboardData && event.clipboardData.files) || [];
    if (!items.length || typeof DataTransfer === "undefined") { return; }
    var chosen = new DataTransfer();
    chosen.items.add(items[0]);
    input.files = chosen.files;
    event.preventDefault();
    form.requestSubmit();
  });
}());

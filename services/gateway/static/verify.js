// The verifier page: after a check, the verdict gets focus (read out first); an image pasted
// anywhere on the page is taken as the QR photo.
(function () {
  "use strict";
  var result = document.getElementById("result");
  if (result) { result.focus(); }
  var input = document.getElementById("image");
  var form = document.getElementById("verify-form");
  document.addEventListener("paste", function (event) {
    var items = (event.clipboardData && event.clipboardData.files) || [];
    if (!items.length || !input || typeof DataTransfer === "undefined") { return; }
    var chosen = new DataTransfer();
    chosen.items.add(items[0]);
    input.files = chosen.files;
    event.preventDefault();
    form.requestSubmit();
  });
}());

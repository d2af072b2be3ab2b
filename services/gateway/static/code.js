// Dynamic codes (my code, an enterprise code): each counts down and fetches a fresh QR
// before the shown one expires (a screenshot of an old one is refused at the gate anyway).
// The countdown is visible; screen readers hear only that the code was refreshed.
(function () {
  "use strict";
  var freeze = document.getElementById("freeze-form");
  if (freeze) {
    freeze.addEventListener("submit", function (event) {
      if (!window.confirm("确定冻结您的码吗？冻结后任何场所都无法使用，需重新登录后解冻。")) {
        event.preventDefault();
      }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".dynamic-code"), function (box) {
    var image = box.querySelector("img[data-fresh-url]");
    var counter = box.querySelector(".countdown-seconds");
    var status = box.querySelector(".code-status");
    var button = box.querySelector(".code-refresh");
    if (!image || !counter) { return; }
    var left = parseInt(counter.getAttribute("data-refresh-in"), 10) || 30;
    var busy = false;

    function refresh() {
      if (busy) { return; }
      busy = true;
      fetch(image.getAttribute("data-fresh-url"), { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 401) { window.location.href = "/login?next=" + window.location.pathname; return null; }
          return response.json();
        })
        .then(function (code) {
          if (!code) { return; }
          if (code.frozen || code.error) { window.location.reload(); return; }
          image.src = code.image;
          left = code.refresh_in;
          counter.textContent = String(left);
          status.textContent = "二维码已刷新";
        })
        .catch(function () { status.textContent = "网络不畅，二维码暂未刷新，稍后自动重试"; left = 5; })
        .then(function () { busy = false; });
    }

    if (button) { button.addEventListener("click", refresh); }
    window.setInterval(function () {
      left -= 1;
      if (left <= 0) { refresh(); return; }
      counter.textContent = String(left);
    }, 1000);
  });
}());

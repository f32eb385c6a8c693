// Polls a run's progress (the URL in data-progress-url) and updates the page; reloads once the run has finished.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (s) {
        if (bar) { bar.value = s.percent; }
        if (text) {
          text.textContent = s.status_display + ": " + (s.done + s.failed) + " / " + s.total + " items (" + s.percent + "%)" +
            (s.failed ? ", " + s.failed + " failed" : "");
        }
        if (s.finished) { window.location.reload(); } else { window.setTimeout(tick, 2000); }
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  if (box.getAttribute("data-finished") !== "true") { window.setTimeout(tick, 1000); }
})();

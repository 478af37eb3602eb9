// DotMac Ledger console: the only script. It follows a rebuild's progress by polling the
// console's own progress endpoint; without it the page still works (reload to refresh).
"use strict";
(function () {
  var bar = document.getElementById("progress");
  if (!bar || bar.dataset.done === "true") return;
  var text = document.getElementById("progress-text");
  var poll = function () {
    fetch(bar.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (p) {
        bar.value = Math.round(p.percent);
        bar.textContent = Math.round(p.percent) + " %";
        text.textContent = p.error ? "Failed: " + p.error : p.text;
        if (!p.done && !p.error) setTimeout(poll, 500);
        else bar.dataset.done = "true";
      })
      .catch(function (e) { text.textContent = "Could not read the progress (" + e.message + "); retrying."; setTimeout(poll, 2000); });
  };
  setTimeout(poll, 300);
})();

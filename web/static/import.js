// A long import's page: moves its progress bar by asking how far the import has come, and shows the
// report (the page itself, reloaded) once the import is done.
(function () {
  "use strict";
  var box = document.getElementById("import-running");
  if (!box) { return; }
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-progress-text");
  var template = text.getAttribute("data-template");

  function poll(delay) {
    window.setTimeout(function () {
      fetch(box.getAttribute("data-progress-url"), { credentials: "same-origin",
                                                     headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (p.state !== "running") { window.location.reload(); return; }
          bar.max = Math.max(p.total, 1);
          bar.value = p.done;
          text.textContent = template.replace("{done}", p.done).replace("{total}", p.total);
          poll(500);
        })
        .catch(function () { poll(3000); });
    }, delay);
  }
  poll(300);
}());

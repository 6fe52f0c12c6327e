// Live index status on the document page: polls the JSON API until the document is indexed or failed.
(function () {
  "use strict";
  var box = document.getElementById("index-status");
  if (!box) { return; }
  var badge = box.querySelector(".badge");
  if (!badge || ["queued", "extracting"].indexOf(badge.getAttribute("data-status")) < 0) { return; }
  var id = box.getAttribute("data-document-id");
  var delay = 1500;
  function poll() {
    fetch("/api/v1/documents/" + id, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) {
        if (!doc) { return; }
        if (doc.index_status !== badge.getAttribute("data-status")) { window.location.reload(); return; }
        delay = Math.min(delay * 1.5, 10000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, delay);
})();

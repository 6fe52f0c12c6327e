// Scanning intake page: send one scanned PDF to the API with upload progress, then open the stack's page
// (its result, or its progress while the worker splits a large stack).
(function () {
  "use strict";
  var box = document.getElementById("intake");
  if (!box) { return; }
  var csrf = box.getAttribute("data-csrf");
  var words = document.getElementById("intake-i18n").dataset;
  var input = document.getElementById("intake-file");
  var start = document.getElementById("intake-start");
  var bar = document.getElementById("intake-progress");
  var status = document.getElementById("intake-status");

  function refusal(xhr) {
    var text = xhr.status + "";
    try { text = JSON.parse(xhr.responseText).error.message; } catch (e) { /* not JSON: keep the status */ }
    status.textContent = words.refused + " " + text;
    status.className = "status-failed";
    start.disabled = false;
  }

  start.addEventListener("click", function () {
    if (!input.files.length) { status.textContent = words.choose; return; }
    var form = new FormData();
    form.append("file", input.files[0], input.files[0].name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/intake");
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Accept-Language", document.documentElement.lang || "zh-CN");
    bar.hidden = false;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(e.loaded * 100 / e.total); }
      if (e.loaded === e.total) { status.textContent = words.splitting; }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 200 || xhr.status === 202) {
        window.location.href = "/intake/" + JSON.parse(xhr.responseText).stack_id;
      } else { refusal(xhr); }
    });
    xhr.addEventListener("error", function () { status.textContent = words.network; start.disabled = false; });
    start.disabled = true;
    status.textContent = words.sending;
    xhr.send(form);
  });
})();

// Upload panel of the dossier page: drag and drop or pick several files, choose type and date per file,
// upload each with a progress bar (XMLHttpRequest to the JSON API), then poll its index status.
(function () {
  "use strict";
  var panel = document.getElementById("upload");
  if (!panel) { return; }
  var dossierId = panel.getAttribute("data-dossier-id");
  var csrf = panel.getAttribute("data-csrf");
  var words = document.getElementById("upload-i18n").dataset;
  var zone = document.getElementById("dropzone");
  var picker = document.getElementById("file-picker");
  var list = document.getElementById("upload-list");
  var tbody = list.querySelector("tbody");
  var rowTemplate = document.getElementById("upload-row");
  var start = document.getElementById("upload-start");
  var pending = [];

  function guessType(name) {
    var n = name.toLowerCase();
    if (/营业执照|license|licence/.test(n)) { return "license"; }
    if (/合同|contract/.test(n)) { return "contract"; }
    if (/资信|信用报告|credit/.test(n)) { return "credit_report"; }
    if (/身份|id_?proof|identity/.test(n)) { return "id_proof"; }
    if (/发票|invoice/.test(n)) { return "invoice"; }
    if (/函|letter|correspondence/.test(n)) { return "correspondence"; }
    return "other";
  }

  function setStatus(item, text, cls) {
    item.status.textContent = "";
    var badge = document.createElement("span");
    badge.className = "badge " + (cls || "");
    badge.textContent = text;
    item.status.appendChild(badge);
    item.row.setAttribute("data-state", cls || "");
    return badge;
  }

  function addFiles(files) {
    Array.prototype.forEach.call(files, function (file) {
      var frag = rowTemplate.content.cloneNode(true);
      var row = frag.querySelector("tr");
      var item = { file: file, row: row, type: row.querySelector(".u-type"), date: row.querySelector(".u-date"),
                   bar: row.querySelector(".u-progress"), status: row.querySelector(".u-status") };
      row.querySelector(".u-name").textContent = file.name;
      item.type.value = guessType(file.name);
      var label = file.name + " ";
      item.type.setAttribute("aria-label", label + item.type.getAttribute("aria-label"));
      item.date.setAttribute("aria-label", label + item.date.getAttribute("aria-label"));
      setStatus(item, words.waiting, "");
      tbody.appendChild(frag);
      pending.push(item);
    });
    list.hidden = pending.length === 0 && tbody.children.length === 0;
    start.disabled = pending.length === 0;
  }

  function refusal(item, xhr) {
    var body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
    var err = body && body.error ? body.error : {};
    if (xhr.status === 409 && err.existing_id) {
      var badge = setStatus(item, words.duplicate + " ", "status-failed");
      var link = document.createElement("a");
      link.href = "/documents/" + err.existing_id;
      link.textContent = words.open;
      badge.appendChild(link);
      return;
    }
    if (xhr.status === 415) { setStatus(item, words.type, "status-failed"); return; }
    if (xhr.status === 413) { setStatus(item, words.size, "status-failed"); return; }
    setStatus(item, words.error + " " + (err.message || xhr.status), "status-failed");
  }

  function poll(item, id, delay) {
    window.setTimeout(function () {
      fetch("/api/v1/documents/" + id, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (doc) { show(item, doc); })
        .catch(function () { poll(item, id, 5000); });
    }, delay);
  }

  function show(item, doc) {
    var state = doc.index_status;
    var text = words[state] || state;
    if (state === "failed" && doc.index_error) { text += ": " + doc.index_error; }
    var badge = setStatus(item, text + " ", "status-" + state);
    badge.setAttribute("data-status", state);
    var link = document.createElement("a");
    link.href = "/documents/" + doc.id;
    link.textContent = "#" + doc.id;
    item.status.appendChild(link);
    if (state === "queued" || state === "extracting") { poll(item, doc.id, 1500); }
  }

  function upload(item) {
    return new Promise(function (resolve) {
      var form = new FormData();
      form.append("file", item.file, item.file.name);
      form.append("doc_type", item.type.value);
      if (item.date.value) { form.append("doc_date", item.date.value); }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/dossiers/" + dossierId + "/documents");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Accept-Language", document.documentElement.lang || "zh-CN");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { item.bar.value = Math.round(e.loaded * 100 / e.total); }
      });
      xhr.addEventListener("load", function () {
        item.bar.value = 100;
        if (xhr.status === 201) { show(item, JSON.parse(xhr.responseText)); } else { refusal(item, xhr); }
        resolve();
      });
      xhr.addEventListener("error", function () { setStatus(item, words.network, "status-failed"); resolve(); });
      item.type.disabled = true;
      item.date.disabled = true;
      setStatus(item, words.uploading, "status-extracting");
      xhr.send(form);
    });
  }

  start.addEventListener("click", function () {
    var batch = pending;
    pending = [];
    start.disabled = true;
    // one after another: keeps the server's memory flat and the progress bars readable
    batch.reduce(function (chain, item) { return chain.then(function () { return upload(item); }); },
                 Promise.resolve());
  });
  picker.addEventListener("change", function () { addFiles(picker.files); picker.value = ""; });
  zone.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); }
  });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { if (e.dataTransfer) { addFiles(e.dataTransfer.files); } });
})();

// lewm-zoo static site: sort and filter the comparison table; on a variant page with a wasm build,
// run the model in the page (lewm.js from the variant's build, loaded with a dynamic import; it
// needs http: `zoo site --serve`). No dependencies, no third-party network.
"use strict";
(function () {
  function init() {
    var table = document.getElementById("variants");
    if (!table) return;
    var tbody = table.tBodies[0];
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var rows = Array.prototype.slice.call(tbody.rows);
    var count = document.getElementById("count");
    var text = document.getElementById("filter-text");
    var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
    var maxSize = document.getElementById("filter-max-size");
    var minCosine = document.getElementById("filter-min-cosine");

    function cellValue(row, index) {
      return row.cells[index].getAttribute("data-value") || "";
    }

    function sortBy(index, type, direction) {
      var sign = direction === "descending" ? -1 : 1;
      var sorted = rows.slice().sort(function (a, b) {
        var x = cellValue(a, index), y = cellValue(b, index);
        if (type === "num") {
          // rows without a measured number always go last
          if (x === "" && y === "") return 0;
          if (x === "") return 1;
          if (y === "") return -1;
          return sign * (parseFloat(x) - parseFloat(y));
        }
        return sign * x.localeCompare(y);
      });
      sorted.forEach(function (row) { tbody.appendChild(row); });
      heads.forEach(function (th, i) {
        th.setAttribute("aria-sort", i === index ? direction : "none");
      });
    }

    heads.forEach(function (th, index) {
      th.addEventListener("click", function () {
        var next = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortBy(index, th.getAttribute("data-type"), next);
      });
    });

    function applyFilters() {
      var needle = (text && text.value || "").trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
        var ok = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
        selects.forEach(function (sel) {
          if (!ok || !sel.value) return;
          var key = sel.getAttribute("data-filter");
          var have = (row.getAttribute("data-" + key) || "").split(" ");
          ok = have.indexOf(sel.value) !== -1;
        });
        // numeric filters: rows without a measured number never satisfy them
        if (ok && maxSize && maxSize.value !== "") {
          var size = row.getAttribute("data-size");
          ok = size !== "" && parseFloat(size) <= parseFloat(maxSize.value) * 1e6;
        }
        if (ok && minCosine && minCosine.value !== "") {
          var cos = row.getAttribute("data-cosine");
          ok = cos !== "" && parseFloat(cos) >= parseFloat(minCosine.value);
        }
        row.classList.toggle("hidden", !ok);
        if (ok) shown += 1;
      });
      if (count) count.textContent = shown + " of " + rows.length + " variants";
    }

    [text, maxSize, minCosine].forEach(function (input) {
      if (input) input.addEventListener("input", applyFilters);
    });
    selects.forEach(function (sel) { sel.addEventListener("change", applyFilters); });
    applyFilters();
    document.body.setAttribute("data-ready", "1");
  }
  function initWasm() {
    var panel = document.getElementById("wasm-run");
    if (!panel) return;
    var button = document.getElementById("wasm-run-button");
    var status = document.getElementById("wasm-status");
    var table = document.getElementById("wasm-result");
    if (location.protocol === "file:") {
      document.getElementById("wasm-file-note").hidden = false;
    }
    function fmt(v, digits) { return v === undefined ? "—" : v.toFixed(digits); }
    button.addEventListener("click", function () {
      button.disabled = true;
      status.setAttribute("data-state", "running");
      status.textContent = "loading the model and running…";
      var url = new URL(panel.getAttribute("data-base") + "lewm.js", location.href).href;
      import(url).then(function (mod) {
        return mod.selfTest({ repeats: 3 });
      }).then(function (r) {
        var body = table.tBodies[0];
        body.textContent = "";
        [["encode (golden image)", "encode"], ["predict (full history)", "predict"],
         ["rollout, " + r.rollout_steps + " steps", "rollout"]].forEach(function (row) {
          var tr = document.createElement("tr");
          [row[0], fmt(r.cosine[row[1]], 6), fmt(r.ms[row[1]], 1) + " ms"].forEach(function (text) {
            var td = document.createElement("td");
            td.textContent = text;
            tr.appendChild(td);
          });
          body.appendChild(tr);
        });
        table.hidden = false;
        status.setAttribute("data-cosine", String(r.min_cosine));
        status.setAttribute("data-state", r.min_cosine >= 0.9999 ? "pass" : "fail");
        status.textContent = (r.min_cosine >= 0.9999 ? "pass" : "FAIL") + ": min cosine " + r.min_cosine.toFixed(6) +
          " vs the golden vectors; model load " + fmt(r.ms.load, 0) + " ms";
      }).catch(function (e) {
        status.setAttribute("data-state", "error");
        status.textContent = "could not run: " + e + (location.protocol === "file:" ? " (serve the site: zoo site --serve)" : "");
      }).then(function () { button.disabled = false; });
    });
  }

  function start() {
    init();
    initWasm();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

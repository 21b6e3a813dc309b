// lewm-zoo static site: sort and filter the comparison table. No dependencies, no network.
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
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

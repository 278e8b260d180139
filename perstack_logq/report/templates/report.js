// The jobs table: sort by a column (click its header), filter by text and status.
// Reads only the DOM (no inlined data); without script the table is simply unsorted.
(function () {
  "use strict";
  var table = document.getElementById("jobs-table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var search = document.getElementById("jobs-filter");
  var status = document.getElementById("jobs-status");
  var shown = document.getElementById("jobs-shown");
  var controls = document.getElementById("jobs-controls");
  if (controls) { controls.hidden = false; }

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent; }
    if (numeric) {
      var number = parseFloat(raw);
      return isNaN(number) ? -Infinity : number;
    }
    return raw.toLowerCase();
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
    header.classList.add("sortable");
    header.setAttribute("tabindex", "0");
    function sort() {
      var numeric = header.classList.contains("num");
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      rows.sort(function (a, b) {
        var x = cellValue(a, index, numeric);
        var y = cellValue(b, index, numeric);
        var order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    header.addEventListener("click", sort);
    header.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
    });
  });

  function filter() {
    var text = search.value.trim().toLowerCase();
    var wanted = status.value;
    var count = 0;
    rows.forEach(function (row) {
      var visible = (!text || row.textContent.toLowerCase().indexOf(text) !== -1) &&
        (!wanted || row.getAttribute("data-status") === wanted);
      row.hidden = !visible;
      if (visible) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }
  search.addEventListener("input", filter);
  status.addEventListener("change", filter);
  filter();
})();

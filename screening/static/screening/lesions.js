// The screening form's lesion table (issue 20): an "Add lesion" button that adds an empty row in the page
// (no save-then-edit round trip), and the bone-only findings (P8) disabled for a lesion of another organ.
// No inline script (CSP): this file is loaded with defer.
(function () {
  "use strict";
  var table = document.getElementById("lesion-table");
  var template = document.getElementById("lesion-empty-row");
  var button = document.getElementById("add-lesion");
  var total = document.querySelector("input[name='lesions-TOTAL_FORMS']");
  var max = document.querySelector("input[name='lesions-MAX_NUM_FORMS']");
  if (!table || !total) { return; }

  function syncBoneFields(row) {
    var organ = row.querySelector("select[name$='-organ']");
    if (!organ) { return; }
    var otherOrgan = organ.value !== "" && organ.value !== "bone";
    row.querySelectorAll("[data-bone-only]").forEach(function (field) {
      if (otherOrgan && field.value !== "") { return; }  // a value entered stays visible: the server explains
      field.disabled = otherOrgan;
      field.setAttribute("aria-disabled", otherOrgan ? "true" : "false");
    });
  }

  function watch(row) {
    var organ = row.querySelector("select[name$='-organ']");
    if (organ) { organ.addEventListener("change", function () { syncBoneFields(row); }); }
    syncBoneFields(row);
  }

  table.querySelectorAll("tr.lesion-row").forEach(watch);

  if (button && template) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var limit = max ? parseInt(max.value, 10) : 1000;
      if (isNaN(index) || index >= limit) { button.disabled = true; return; }
      var html = template.innerHTML.replace(/__prefix__/g, String(index))
        .replace(/__number__/g, String(index + 1));
      var body = table.querySelector("tbody");
      body.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var row = body.lastElementChild;
      watch(row);
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) { first.focus(); }
      if (index + 1 >= limit) { button.disabled = true; }
    });
  }
})();

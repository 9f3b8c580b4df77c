// Forms keep what was typed when the page comes back with an error, and the field the error
// names is marked next to it (the server answers "field: message"). No data leaves the tab:
// sessionStorage holds one form's values until the next page load.
(function () {
  "use strict";
  var KEY = "ketasim-form";
  var SKIP = { hidden: 1, password: 1, submit: 1, button: 1 };
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.type]) { return; }
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) { data[el.name + "=" + el.value] = true; }
        return;
      }
      data[el.name] = el.value;
    });
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ action: form.getAttribute("action"), data: data }));
    } catch (ignore) { /* storage disabled: nothing kept */ }
  }, true);
  window.addEventListener("DOMContentLoaded", function () {
    var raw = null;
    try { raw = sessionStorage.getItem(KEY); sessionStorage.removeItem(KEY); } catch (ignore) { return; }
    var error = document.getElementById("error");
    if (!raw || !error) { return; }
    var saved = JSON.parse(raw);
    var form = null;
    Array.prototype.forEach.call(document.forms, function (f) {
      if (f.getAttribute("action") === saved.action) { form = f; }
    });
    if (!form) { return; }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.type]) { return; }
      if (el.type === "radio" || el.type === "checkbox") {
        el.checked = Boolean(saved.data[el.name + "=" + el.value]);
      } else if (Object.prototype.hasOwnProperty.call(saved.data, el.name)) {
        el.value = saved.data[el.name];
      }
    });
    var match = /^([A-Za-z_][A-Za-z0-9_.\[\]]*):\s*(.*)$/.exec(error.textContent.trim());
    var field = match ? form.querySelector('[name="' + match[1] + '"]') : null;
    if (field) {
      field.classList.add("invalid");
      var note = document.createElement("span");
      note.className = "field-error";
      note.textContent = match[2];
      field.insertAdjacentElement("afterend", note);
      field.focus();
    }
  });
}());

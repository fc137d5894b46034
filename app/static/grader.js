// The review page without reloads: decision forms post in the background and the grading
// panel is replaced by the server's rendering, so totals, versions and the audit trail stay
// the server's truth. Every form still works without this script.
(function () {
  "use strict";

  var selected = 0;

  function panel() { return document.getElementById("decision-panel"); }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#decision-panel .decision-row")); }

  function select(index, focus) {
    var list = rows();
    if (!list.length) { return; }
    selected = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    if (focus) { list[selected].focus(); }
  }

  function replacePanel(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.querySelector("#decision-panel");
    if (fresh) { panel().replaceWith(fresh); }
    select(selected, false);
  }

  function busy(on) {
    var current = panel();
    if (current) { current.setAttribute("aria-busy", on ? "true" : "false"); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-async")) { return; }
    event.preventDefault();
    var row = form.closest(".decision-row");
    if (row) { selected = rows().indexOf(row); }
    var body = new URLSearchParams(new FormData(form));
    busy(true);
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Partial": "1", "X-CSRF-Token": body.get("csrf_token") || "" },
    }).then(function (response) {
      return response.text().then(function (text) {
        if (response.headers.get("content-type").indexOf("text/html") === 0 && text.indexOf("decision-panel") >= 0) {
          replacePanel(text);
        } else {
          // Not a panel (signed out, server error): fall back to a full page load.
          window.location.reload();
        }
      });
    }).catch(function () {
      form.removeAttribute("data-async");
      form.submit();
    }).finally(function () { busy(false); });
  });

  document.addEventListener("click", function (event) {
    var row = event.target instanceof Element ? event.target.closest(".decision-row") : null;
    if (row) { select(rows().indexOf(row), false); }
  });

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function press(key) {
    var row = rows()[selected];
    if (!row) { return false; }
    var button = row.querySelector('button[data-shortcut="' + key + '"]');
    if (!button) { return false; }
    button.click();
    return true;
  }

  function jump(id) {
    var element = document.getElementById(id);
    if (element) { element.scrollIntoView({ block: "center" }); element.focus(); }
    return Boolean(element);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": select(selected + 1, true); break;
      case "k": select(selected - 1, true); break;
      case "c": case "r": case "d": handled = press(event.key); break;
      case "a": handled = jump("add-comment"); break;
      case "o": handled = jump("override-dimension"); break;
      case "f": handled = jump("finalize"); break;
      case "?":
        var help = document.getElementById("shortcuts");
        if (help) { help.hidden = !help.hidden; }
        break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("focusin", function (event) {
    var row = event.target instanceof Element ? event.target.closest(".decision-row") : null;
    if (row) { select(rows().indexOf(row), false); }
  });

  select(0, false);
})();

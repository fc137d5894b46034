// Grade by bug without reloads: a decision posts in the background, the list is replaced by
// the server's rendering, and focus moves to the next answer still undecided. The forms work
// without this script.
(function () {
  "use strict";

  var selected = 0;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#group-answers .decision-row")); }

  function select(index, focus) {
    var list = rows();
    if (!list.length) { return; }
    selected = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    if (focus) { list[selected].focus(); }
  }

  function advance(from) {
    var list = rows();
    for (var step = 1; step <= list.length; step++) {
      var i = (from + step) % list.length;
      if (list[i].classList.contains("undecided")) { select(i, true); return; }
    }
    select(from, true);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-async")) { return; }
    event.preventDefault();
    var row = form.closest(".decision-row");
    var decided = row ? rows().indexOf(row) : selected;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Partial": "1", "X-CSRF-Token": body.get("csrf_token") || "" },
    }).then(function (response) {
      return response.text().then(function (text) {
        var holder = document.createElement("div");
        holder.innerHTML = text;
        var fresh = holder.querySelector("#group-answers");
        if (!fresh) { window.location.reload(); return; }
        document.getElementById("group-answers").replaceWith(fresh);
        if (response.ok) { advance(decided); } else { select(decided, false); }
      });
    }).catch(function () { form.removeAttribute("data-async"); form.submit(); });
  });

  document.addEventListener("focusin", function (event) {
    var row = event.target instanceof Element ? event.target.closest(".decision-row") : null;
    if (row) { select(rows().indexOf(row), false); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName)) { return; }
    var handled = true;
    if (event.key === "j") { select(selected + 1, true); }
    else if (event.key === "k") { select(selected - 1, true); }
    else if ("cra".indexOf(event.key) >= 0 && event.key.length === 1) {
      var row = rows()[selected];
      var button = row && row.querySelector('button[data-shortcut="' + event.key + '"]');
      if (button) { button.click(); } else { handled = false; }
    } else { handled = false; }
    if (handled) { event.preventDefault(); }
  });

  var first = rows().findIndex(function (row) { return row.classList.contains("undecided"); });
  select(first >= 0 ? first : 0, false);
})();

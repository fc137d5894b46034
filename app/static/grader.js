// The review page without reloads: decision forms post in the background and the grading
// panel (and the header) are replaced by the server's rendering, so totals, versions and the
// audit trail stay the server's truth. Every form still works without this script.
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
    if (focus) { list[selected].focus({ preventScroll: true }); list[selected].scrollIntoView({ block: "nearest" }); }
  }

  // After a decision the grader's attention moves on: to the next item still undecided
  // (after the one just decided, then from the top), or to Finalize when none is left.
  function advance(from) {
    var list = rows();
    for (var step = 1; step <= list.length; step++) {
      var i = (from + step) % list.length;
      if (list[i].classList.contains("undecided")) { select(i, true); return; }
    }
    var finalize = document.getElementById("finalize");
    if (finalize) { finalize.focus(); finalize.scrollIntoView({ block: "nearest" }); }
    else { select(from, true); }
  }

  function replaceParts(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.querySelector("#decision-panel");
    if (!fresh) { return false; }
    // Keep open what the grader opened (answer key, audit trail) across the replacement.
    var open = {};
    panel().querySelectorAll("details").forEach(function (d, i) { open[i] = d.open; });
    panel().replaceWith(fresh);
    fresh.querySelectorAll("details").forEach(function (d, i) { if (open[i] && !d.hasAttribute("open")) { d.open = true; } });
    var head = holder.querySelector("#review-head");
    var oldHead = document.getElementById("review-head");
    if (head && oldHead) {
      head.querySelector("#shortcuts-box").open = oldHead.querySelector("#shortcuts-box").open;
      oldHead.replaceWith(head);
    }
    return true;
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
    var decided = row ? rows().indexOf(row) : -1;
    if (decided >= 0) { selected = decided; }
    var wasFinal = panel().dataset.status === "final";
    var body = new URLSearchParams(new FormData(form));
    busy(true);
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Partial": "1", "X-CSRF-Token": body.get("csrf_token") || "" },
    }).then(function (response) {
      return response.text().then(function (text) {
        var html = (response.headers.get("content-type") || "").indexOf("text/html") === 0;
        if (!html || !replaceParts(text)) {
          // Not a panel (signed out, server error): fall back to a full page load.
          window.location.reload();
          return;
        }
        var now = panel();
        if (response.ok && !wasFinal && now.dataset.status === "final") {
          window.location.assign(now.dataset.next);  // signed: straight on to the next one
          return;
        }
        if (response.ok && decided >= 0) { advance(decided); }
        else { select(selected, false); }
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
    if (!element) { return false; }
    var box = element.closest("details");
    if (box) { box.open = true; }
    element.scrollIntoView({ block: "center" });
    element.focus();
    return true;
  }

  function go(id) {
    var link = document.getElementById(id);
    if (link && link.href) { window.location.assign(link.href); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": select(selected + 1, true); break;
      case "k": select(selected - 1, true); break;
      case "c": case "r": case "d": handled = press(event.key); break;
      case "a": handled = press("a") || jump("add-comment"); break;
      case "o": handled = jump("override-dimension"); break;
      case "f": handled = jump("finalize"); break;
      case "n": handled = go("next-todo"); break;
      case "[": handled = go("prev-submission"); break;
      case "]": handled = go("next-submission"); break;
      case "?":
        var help = document.getElementById("shortcuts-box");
        if (help) { help.open = !help.open; }
        break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("focusin", function (event) {
    var row = event.target instanceof Element ? event.target.closest(".decision-row") : null;
    if (row) { select(rows().indexOf(row), false); }
  });

  // Open on the first item still to decide; if none is left, on Finalize.
  var first = rows().findIndex(function (row) { return row.classList.contains("undecided"); });
  if (first >= 0) { select(first, false); }
  else {
    select(0, false);
    var finalize = document.getElementById("finalize");
    if (finalize && rows().length) { finalize.focus({ preventScroll: true }); }
  }
})();

/*
 * The candidate's review page, enhanced: comment on a line or range from the code, edit,
 * reorder and delete comments in place, and save every change to the server within a second
 * or two. The page works without this script (plain forms); with it, every change is also
 * kept in localStorage, so a reload, a closed tab, a dropped network or a server restart
 * loses nothing.
 *
 * Saves send the whole draft with the revision it was based on; the server refuses a save
 * from an older revision (another tab saved since), so a stale tab cannot overwrite newer work.
 */
(function () {
  "use strict";

  /* The confirmation page: keep counting down, and send the review when the time is up. */
  var confirmClock = document.getElementById("confirm-time-left");
  if (confirmClock) {
    var confirmDeadline = Date.now() + Number(confirmClock.dataset.secondsLeft || 0) * 1000;
    var confirmTimer = setInterval(function () {
      var s = Math.max(0, Math.ceil((confirmDeadline - Date.now()) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      confirmClock.textContent = (h ? h + ":" + ("0" + m).slice(-2) : String(m)) + ":" + ("0" + sec).slice(-2);
      if (s === 0) {
        clearInterval(confirmTimer);
        document.getElementById("confirm-form").submit();
      }
    }, 1000);
  }

  var stateEl = document.getElementById("take-state");
  if (!stateEl) { return; }
  var initial = JSON.parse(stateEl.textContent);
  if (initial.status !== "in_progress" || !initial.draft) { return; }

  var SEVERITIES = ["critical", "major", "minor", "nit"];
  var SAVE_DELAY_MS = 600;
  var MAX_WAIT_MS = 2000;
  var csrf = initial.csrf_token;
  var limits = initial.limits;
  var storeKey = "redline:draft:" + initial.submission_id;

  var draft = {
    comments: initial.draft.comments.map(copyComment),
    summary: initial.draft.summary
  };
  var revision = initial.draft.revision;
  var rendered = {};  // client_id -> {body, html}: server-rendered Markdown for a body
  initial.draft.comments.forEach(function (c) { rendered[c.client_id] = { body: c.body, html: c.body_html }; });
  var changeSeq = 0;
  var savedSeq = 0;
  var inflight = null;
  var saveTimer = null;
  var failures = 0;
  // Kept until a save succeeds: a retry after a lost answer sends the same id, so the server
  // recognises its own earlier success instead of reporting a conflict with another tab.
  var saveId = null;
  var dirtySince = 0;
  var blocked = false;
  var closed = false;
  var timingOut = false;
  var lastSavedAt = initial.draft.saved_at;
  var editing = {};
  var deadline = Date.now() + (initial.seconds_left || 0) * 1000;
  var announced = {};

  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $("save-status");
  var banner = $("banner");
  var list = $("comment-list");
  var compose = $("compose");
  var composeForm = $("compose-form");
  var composeHome = { parent: compose.parentNode, next: compose.nextSibling };
  var summaryText = $("summary-text");
  var selection = null;  // {file, start, end, anchor}
  var cursors = {};  // file -> line under the keyboard cursor

  // -- model -----------------------------------------------------------------------------

  function copyComment(c) {
    return { client_id: c.client_id, file: c.file || null, line: c.line || null,
      end_line: c.end_line || null, severity: c.severity || null, body: c.body || "" };
  }

  function newId() {
    var bytes = new Uint8Array(8);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "c" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function indexOf(id) {
    for (var i = 0; i < draft.comments.length; i++) { if (draft.comments[i].client_id === id) { return i; } }
    return -1;
  }

  function sameDraft(a, b) {
    return JSON.stringify([a.summary, a.comments.map(copyComment)]) ===
      JSON.stringify([b.summary, b.comments.map(copyComment)]);
  }

  function isDirty() { return changeSeq !== savedSeq; }

  // -- local copy ------------------------------------------------------------------------

  function persistLocal() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({
        revision: revision, dirty: isDirty(), draft: draft, at: new Date().toISOString()
      }));
    } catch (e) { /* storage full or disabled: the server copy still counts */ }
  }

  function restoreLocal() {
    var local = null;
    try { local = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch (e) { local = null; }
    if (!local || !local.dirty || !local.draft) { return; }
    var restored = { comments: (local.draft.comments || []).map(copyComment), summary: local.draft.summary || "" };
    if (sameDraft(restored, draft)) { return; }  // a save on leaving the page already got there
    if (local.revision >= revision) {
      draft = restored;
      changeSeq = 1;
      showBanner("info", "Restored changes from this browser that had not reached the server yet; saving them now.");
    } else {
      try { localStorage.setItem(storeKey + ":older", JSON.stringify(local)); } catch (e) { /* ignore */ }
      showBanner("info", "This browser held unsaved changes older than your saved review (it was changed in another tab since); the newer saved review is shown.",
        { label: "Bring back the text from the other tab", run: function () { bringBack(restored); } });
    }
  }

  /* Add what a losing tab wrote to the saved review: comments it changed or added come back
     as comments of their own, its summary is appended; nothing saved is overwritten. */
  function bringBack(older) {
    var saved = {};
    draft.comments.forEach(function (c) { saved[c.client_id] = c.body; });
    var bodies = draft.comments.map(function (c) { return c.body; });
    var added = 0, skipped = 0;
    older.comments.forEach(function (c) {
      if (!c.body.trim() || bodies.indexOf(c.body) >= 0) { return; }
      if (draft.comments.length >= limits.max_comments) { skipped += 1; return; }
      var copy = copyComment(c);
      if (Object.prototype.hasOwnProperty.call(saved, c.client_id)) { copy.client_id = newId(); }
      draft.comments.push(copy);
      bodies.push(copy.body);
      added += 1;
    });
    var summary = (older.summary || "").trim();
    var summaryBack = summary && draft.summary.indexOf(summary) < 0;
    if (summaryBack) {
      draft.summary = draft.summary.trim() ? draft.summary + "\n\n" + summary : summary;
      summaryText.value = draft.summary;
    }
    try { localStorage.removeItem(storeKey + ":older"); } catch (e) { /* ignore */ }
    changed();
    render();
    showBanner("info", "Brought back " + added + " comment" + (added === 1 ? "" : "s") +
      (summaryBack ? " and the summary's text" : "") + " from the other tab, at the end of your review" +
      (skipped ? "; " + skipped + " did not fit under the limit of " + limits.max_comments + " comments" : "") +
      ". Edit or delete what you do not need.");
  }

  // -- saving ----------------------------------------------------------------------------

  function setStatus(kind, text) {
    statusEl.className = "save-status " + kind;
    statusEl.textContent = text;
  }

  function savedText() {
    if (!lastSavedAt) { return "Nothing saved yet"; }
    // UTC, as the page states the deadline and the server renders the first "Saved at".
    return "Saved at " + new Date(lastSavedAt).toISOString().slice(11, 19) + " UTC";
  }

  function showBanner(kind, text, action) {
    banner.className = "banner " + (kind || "");
    banner.textContent = text + " ";
    if (action) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "secondary small";
      b.textContent = action.label;
      b.addEventListener("click", action.run);
      banner.appendChild(b);
    }
    banner.hidden = false;
  }

  function hideBanner() { banner.hidden = true; }

  function changed() {
    changeSeq += 1;
    persistLocal();
    if (closed) { return; }
    if (blocked === "invalid") { blocked = false; }
    if (!blocked) { setStatus("", "Unsaved changes…"); }
    // Save after a short pause, but never later than MAX_WAIT_MS after the first unsaved
    // change, so steady typing still reaches the server every couple of seconds.
    var now = Date.now();
    if (!dirtySince) { dirtySince = now; }
    clearTimeout(saveTimer);
    saveTimer = setTimeout(flush, Math.max(0, Math.min(SAVE_DELAY_MS, dirtySince + MAX_WAIT_MS - now)));
  }

  function api(method, url, body, keepalive) {
    var options = { method: method, credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = body;
    }
    return fetch(url, options).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { ok: res.ok, status: res.status, data: data,
          retryAfter: parseInt(res.headers.get("Retry-After") || "0", 10) };
      });
    }, function () { return { ok: false, status: 0, data: {} }; });
  }

  function payload() {
    if (!saveId) { saveId = "s" + newId().slice(1); }
    return JSON.stringify({
      save_id: saveId,
      base_revision: revision,
      comments: draft.comments.map(copyComment),
      summary: draft.summary
    });
  }

  /* Send the draft if it changed; resolves true once everything up to now is on the server. */
  function flush() {
    clearTimeout(saveTimer);
    if (inflight) { return inflight.then(function () { return flush(); }); }
    if (!isDirty()) { return Promise.resolve(true); }
    if (blocked || closed) { return Promise.resolve(false); }
    var seq = changeSeq;
    dirtySince = 0;
    setStatus("", "Saving…");
    inflight = api("PUT", "/api/candidate/draft", payload()).then(function (res) {
      inflight = null;
      if (res.ok) {
        failures = 0;
        saveId = null;
        revision = res.data.draft.revision;
        lastSavedAt = res.data.draft.saved_at;
        savedSeq = seq;
        res.data.draft.comments.forEach(function (c) { rendered[c.client_id] = { body: c.body, html: c.body_html }; });
        syncClock(res.data.seconds_left);
        persistLocal();
        refreshBodies();
        if (isDirty()) { saveTimer = setTimeout(flush, SAVE_DELAY_MS); setStatus("", "Unsaved changes…"); }
        else { setStatus("ok", savedText()); }
        return true;
      }
      saveFailed(res);
      return false;
    });
    return inflight;
  }

  function saveFailed(res) {
    var code = res.data && res.data.code;
    var detail = (res.data && res.data.detail) || "";
    if (res.status === 0 || res.status >= 500 || res.status === 429) {
      failures += 1;
      var wait = Math.min(15000, 1000 * Math.pow(2, failures));
      if (res.status === 429) { wait = Math.max(wait, 1000 * (res.retryAfter || 5)); }
      var why = res.status === 429 ? "the server asked to slow down" : "cannot reach the server";
      setStatus("warn", "Not saved: " + why + ". Your changes are kept in this browser; retrying in " + Math.round(wait / 1000) + " s.");
      saveTimer = setTimeout(flush, wait);
    } else if (code === "draft_conflict") {
      blocked = "conflict";
      setStatus("error", "Not saved: changed in another tab.");
      showBanner("", detail + " Your latest text is kept in this browser.", { label: "Reload", run: function () { location.reload(); } });
    } else if (code === "deadline_passed" || code === "already_submitted") {
      closed = true;
      setStatus("error", detail);
      location.href = "/take/receipt";
    } else if (res.status === 422) {
      blocked = "invalid";
      var problems = (res.data.problems || []).join("; ");
      setStatus("error", "Not saved: " + (problems || detail));
    } else if (res.status === 401 || res.status === 403) {
      blocked = "session";
      setStatus("error", "Not saved: " + detail);
      showBanner("", detail);
    } else {
      blocked = "invalid";
      setStatus("error", "Not saved: " + (detail || ("error " + res.status)));
    }
  }

  // -- the clock -------------------------------------------------------------------------

  function syncClock(secondsLeft) {
    if (typeof secondsLeft === "number") { deadline = Date.now() + secondsLeft * 1000; }
  }

  function clockText(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = h ? ("0" + m).slice(-2) : String(m);
    return (h ? h + ":" : "") + mm + ":" + ("0" + sec).slice(-2);
  }

  function tick() {
    var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    $("time-left").textContent = clockText(left);
    var timer = $("timer");
    timer.classList.toggle("low", left <= 300 && left > 0);
    timer.classList.toggle("out", left === 0);
    [[300, "Five minutes left."], [60, "One minute left."]].forEach(function (mark) {
      if (left <= mark[0] && left > 0 && !announced[mark[0]]) {
        announced[mark[0]] = true;
        $("time-announce").textContent = mark[1];
      }
    });
    if (left === 0 && !closed && !timingOut) { timeUp(); }
  }

  function timeUp() {
    timingOut = true;
    document.querySelectorAll(".take-layout textarea, .take-layout select, .take-layout input, .take-layout button")
      .forEach(function (node) { node.disabled = true; });
    setStatus("warn", "Time is up: submitting your review…");
    $("time-announce").textContent = "Time is up. Your review is being submitted.";
    if (blocked === "invalid") { blocked = false; }
    if ($("compose-body").value.trim()) { addFromCompose(); }  // unfinished work still counts
    flush().then(function () {
      closed = true;
      submitNow();
    });
  }

  function submitNow() {
    api("POST", "/api/candidate/submit").then(function (res) {
      if (res.ok || (res.data && res.data.code === "already_submitted")) {
        try { localStorage.removeItem(storeKey); } catch (e) { /* ignore */ }
        location.href = "/take/receipt";
      } else {
        setStatus("warn", "Time is up. Could not reach the server; retrying. Your last saved review will be submitted in any case.");
        setTimeout(submitNow, 3000);
      }
    });
  }

  // -- rendering -------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "html") { node.innerHTML = attrs[k]; }
      else if (k === "class") { node.className = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function anchorLabel(c) {
    if (!c.file) { return "General"; }
    if (!c.line) { return c.file; }
    return c.file + ":" + c.line + (c.end_line && c.end_line !== c.line ? "–" + c.end_line : "");
  }

  function fileAnchor(name) { return "f-" + name.replace(/[^A-Za-z0-9]/g, "-"); }

  function bodyNode(c) {
    var r = rendered[c.client_id];
    if (r && r.body === c.body) { return el("div", { "class": "md", html: r.html }); }
    return el("div", { "class": "md plain", text: c.body });
  }

  function severitySelect(c, number) {
    var select = el("select", { "class": "sev-select", "data-action": "severity",
      "aria-label": "Severity of comment " + number });
    select.appendChild(el("option", { value: "", text: "no severity" }));
    SEVERITIES.forEach(function (s) {
      var o = el("option", { value: s, text: s });
      if (c.severity === s) { o.selected = true; }
      select.appendChild(o);
    });
    return select;
  }

  function button(label, action, aria, disabled) {
    var b = el("button", { type: "button", "class": "secondary small", "data-action": action,
      "aria-label": aria, text: label });
    b.disabled = !!disabled;
    return b;
  }

  function renderList(focus) {
    list.textContent = "";
    var n = draft.comments.length;
    draft.comments.forEach(function (c, i) {
      var number = i + 1;
      var head = el("header", { "class": "comment-head" }, [
        el("span", { "class": "comment-number", text: "#" + number }),
        severitySelect(c, number),
        c.file && c.line
          ? el("a", { "class": "anchor", href: "#" + fileAnchor(c.file) + "-L" + c.line, text: anchorLabel(c) })
          : el("span", { "class": "anchor", text: anchorLabel(c) })
      ]);
      var content;
      if (editing[c.client_id]) {
        content = el("textarea", { "class": "edit-body", "data-action": "body", rows: "6",
          maxlength: String(limits.max_comment_chars), "aria-label": "Text of comment " + number });
        content.value = c.body;
      } else {
        content = bodyNode(c);
      }
      var card = el("article", { "class": "comment-card sev-" + (c.severity || "none") }, [head, content]);
      var actions = el("div", { "class": "item-actions" }, [
        button(editing[c.client_id] ? "Done" : "Edit", "edit", (editing[c.client_id] ? "Finish editing" : "Edit") + " comment " + number),
        button("Up", "up", "Move comment " + number + " up", i === 0),
        button("Down", "down", "Move comment " + number + " down", i === n - 1),
        button("Delete", "delete", "Delete comment " + number)
      ]);
      var item = el("li", { id: "c-" + c.client_id, "class": "comment-item" + (editing[c.client_id] ? " editing" : ""),
        "data-client-id": c.client_id }, [card, actions]);
      list.appendChild(item);
    });
    $("comment-count").textContent = String(n);
    $("no-comments").hidden = n > 0;
    if (focus) {
      var target = list.querySelector('[data-client-id="' + focus.id + '"] [data-action="' + focus.action + '"]');
      if (target && !target.disabled) { target.focus(); }
      else {
        var item = list.querySelector('[data-client-id="' + focus.id + '"] [data-action="edit"]');
        if (item) { item.focus(); }
      }
    }
  }

  function renderThreads() {
    document.querySelectorAll("tr.thread-row").forEach(function (row) { row.remove(); });
    document.querySelectorAll("tr.line.has-comment").forEach(function (row) { row.classList.remove("has-comment"); });
    var groups = {};
    draft.comments.forEach(function (c, i) {
      if (!c.file || !c.line) { return; }
      var key = c.file + "\n" + (c.end_line || c.line);
      (groups[key] = groups[key] || []).push([i + 1, c]);
      for (var l = c.line; l <= (c.end_line || c.line); l++) {
        var r = document.getElementById(fileAnchor(c.file) + "-L" + l);
        if (r) { r.classList.add("has-comment"); }
      }
    });
    Object.keys(groups).forEach(function (key) {
      var parts = key.split("\n");
      var row = document.getElementById(fileAnchor(parts[0]) + "-L" + parts[1]);
      if (!row) { return; }
      var thread = el("div", { "class": "thread" });
      groups[key].forEach(function (pair) {
        var c = pair[1];
        var edit = el("button", { type: "button", "class": "secondary small", "data-edit": c.client_id,
          text: "Edit", "aria-label": "Edit comment " + pair[0] });
        thread.appendChild(el("article", { "class": "comment-card sev-" + (c.severity || "none") }, [
          el("header", { "class": "comment-head" }, [
            el("span", { "class": "comment-number", text: "#" + pair[0] }),
            el("span", { "class": "sev-badge", text: c.severity || "no severity" }),
            el("span", { "class": "anchor", text: anchorLabel(c) }),
            edit
          ]),
          bodyNode(c)
        ]));
      });
      var tr = el("tr", { "class": "thread-row" }, [el("td", { colspan: "2" }, [thread])]);
      var after = row;
      while (after.nextElementSibling && after.nextElementSibling.classList.contains("compose-row")) { after = after.nextElementSibling; }
      after.parentNode.insertBefore(tr, after.nextSibling);
    });
  }

  function render(focus) {
    renderList(focus);
    renderThreads();
  }

  /* After a save, show rendered Markdown where the text is unchanged, without disturbing focus. */
  function refreshBodies() {
    list.querySelectorAll("li[data-client-id]").forEach(function (item) {
      var id = item.dataset.clientId;
      var i = indexOf(id);
      var shown = item.querySelector(".comment-card > .md");
      if (i < 0 || editing[id] || !shown) { return; }
      shown.replaceWith(bodyNode(draft.comments[i]));
    });
    renderThreads();
  }

  // -- the list: edit, severity, reorder, delete ---------------------------------------------

  list.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-action]");
    if (!b) { return; }
    var id = b.closest("[data-client-id]").dataset.clientId;
    var i = indexOf(id);
    if (i < 0) { return; }
    var action = b.dataset.action;
    if (action === "edit") {
      editing[id] = !editing[id];
      render({ id: id, action: editing[id] ? "body" : "edit" });
      if (!editing[id]) { flush(); }
      return;
    }
    if (action === "up" || action === "down") {
      move(i, action === "up" ? -1 : 1);
      render({ id: id, action: action });
      return;
    }
    if (action === "delete") {
      var removed = draft.comments.splice(i, 1)[0];
      delete editing[id];
      changed();
      render();
      var next = list.querySelectorAll("[data-action=edit]")[Math.min(i, draft.comments.length - 1)];
      (next || $("compose-body")).focus();
      showBanner("info", "Comment " + (i + 1) + " deleted.", { label: "Undo", run: function () {
        draft.comments.splice(Math.min(i, draft.comments.length), 0, removed);
        changed();
        render({ id: removed.client_id, action: "edit" });
        hideBanner();
      } });
    }
  });

  function move(i, offset) {
    var j = i + offset;
    if (j < 0 || j >= draft.comments.length) { return; }
    draft.comments.splice(j, 0, draft.comments.splice(i, 1)[0]);
    changed();
  }

  list.addEventListener("change", function (event) {
    if (event.target.dataset.action !== "severity") { return; }
    var id = event.target.closest("[data-client-id]").dataset.clientId;
    var i = indexOf(id);
    draft.comments[i].severity = event.target.value || null;
    changed();
    render({ id: id, action: "severity" });
  });

  list.addEventListener("input", function (event) {
    if (event.target.dataset.action !== "body") { return; }
    var id = event.target.closest("[data-client-id]").dataset.clientId;
    draft.comments[indexOf(id)].body = event.target.value;
    changed();
  });

  list.addEventListener("keydown", function (event) {
    var item = event.target.closest && event.target.closest("[data-client-id]");
    if (!item) { return; }
    var id = item.dataset.clientId;
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      move(indexOf(id), event.key === "ArrowUp" ? -1 : 1);
      render({ id: id, action: event.target.dataset.action || "edit" });
    } else if (event.target.dataset.action === "body" && (event.key === "Escape" || (event.key === "Enter" && (event.ctrlKey || event.metaKey)))) {
      event.preventDefault();
      editing[id] = false;
      render({ id: id, action: "edit" });
      flush();
    }
  });

  document.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-edit]");
    if (!b) { return; }
    var id = b.dataset.edit;
    editing[id] = true;
    render({ id: id, action: "body" });
  });

  var sortButton = el("button", { type: "button", "class": "secondary small", id: "sort-severity",
    text: "Sort by severity" });
  sortButton.addEventListener("click", function () {
    var rank = function (c) { var r = SEVERITIES.indexOf(c.severity); return r < 0 ? SEVERITIES.length : r; };
    var order = draft.comments.map(function (c, i) { return [rank(c), i, c]; });
    order.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    draft.comments = order.map(function (x) { return x[2]; });
    changed();
    render();
  });
  $("comments-hint").textContent = "Order them by urgency: Up and Down (or Alt+Arrow keys) move a comment. ";
  $("comments-hint").appendChild(sortButton);

  // -- choosing lines in the code ------------------------------------------------------------

  function rowOf(node) {
    var n = node && node.nodeType === 3 ? node.parentNode : node;
    return n && n.closest ? n.closest("tr.line") : null;
  }

  function fileOf(row) { return row.closest("table.code").dataset.file; }

  function rowFor(file, line) { return document.getElementById(fileAnchor(file) + "-L" + line); }

  function paintSelection() {
    document.querySelectorAll("tr.line.selected").forEach(function (r) { r.classList.remove("selected"); });
    if (!selection) { return; }
    for (var l = selection.start; l <= selection.end; l++) {
      var r = rowFor(selection.file, l);
      if (r) { r.classList.add("selected"); }
    }
  }

  function select(file, anchor, line) {
    selection = { file: file, anchor: anchor, start: Math.min(anchor, line), end: Math.max(anchor, line) };
    paintSelection();
  }

  function openCompose() {
    if (!selection) { return; }
    var row = rowFor(selection.file, selection.end);
    var holder = document.querySelector("tr.compose-row");
    if (!holder) {
      holder = el("tr", { "class": "compose-row" }, [el("td", { colspan: "2" })]);
    }
    var after = row;
    while (after.nextElementSibling && after.nextElementSibling.classList.contains("thread-row")) { after = after.nextElementSibling; }
    after.parentNode.insertBefore(holder, after.nextSibling);
    holder.firstChild.appendChild(compose);
    $("compose-file").value = selection.file;
    $("compose-line").value = String(selection.start);
    $("compose-end-line").value = selection.end !== selection.start ? String(selection.end) : "";
    $("compose-title").textContent = "Comment on " + selection.file + (selection.end !== selection.start
      ? " lines " + selection.start + "–" + selection.end : " line " + selection.start);
    $("compose-cancel").hidden = false;
    $("compose-body").focus();
  }

  function closeCompose(refocus) {
    var holder = document.querySelector("tr.compose-row");
    composeHome.parent.insertBefore(compose, composeHome.next);
    if (holder) {
      holder.remove();
      // The anchor came from the selection in the code; the side form starts blank.
      $("compose-file").value = "";
      $("compose-line").value = "";
      $("compose-end-line").value = "";
    }
    $("compose-title").textContent = "Add a comment";
    $("compose-cancel").hidden = true;
    var file = selection && selection.file;
    selection = null;
    paintSelection();
    if (refocus && file) {
      var table = document.querySelector('table.code[data-file="' + file + '"]');
      if (table) { table.focus(); }
    }
  }

  document.querySelectorAll("table.code").forEach(function (table) {
    var file = table.dataset.file;
    table.tabIndex = 0;
    table.setAttribute("aria-label", table.getAttribute("aria-label") +
      ". Arrow keys move between lines, Shift with arrows selects a range, Enter comments on it.");
    table.querySelectorAll("td.ln a").forEach(function (a) { a.tabIndex = -1; });

    table.addEventListener("click", function (event) {
      var a = event.target.closest("td.ln a");
      if (!a) { return; }
      event.preventDefault();
      var line = Number(rowOf(a).dataset.line);
      if (event.shiftKey && selection && selection.file === file) {
        select(file, selection.anchor, line);
      } else {
        select(file, line, line);
      }
      cursors[file] = line;
      openCompose();
    });

    table.addEventListener("mouseup", function () {
      var s = window.getSelection();
      if (!s || s.isCollapsed) { return; }
      var a = rowOf(s.anchorNode), b = rowOf(s.focusNode);
      if (!a || !b || a === b || fileOf(a) !== file || fileOf(b) !== file) { return; }
      select(file, Number(a.dataset.line), Number(b.dataset.line));
      openCompose();
    });

    table.addEventListener("keydown", function (event) {
      if (event.target !== table) { return; }
      var last = table.querySelectorAll("tr.line").length;
      var cur = cursors[file] || 1;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var next = Math.max(1, Math.min(last, cur + (event.key === "ArrowDown" ? 1 : -1)));
        if (event.shiftKey) {
          var anchor = selection && selection.file === file ? selection.anchor : cur;
          select(file, anchor, next);
        } else {
          select(file, next, next);
        }
        setCursor(file, next);
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (!selection || selection.file !== file) { select(file, cur, cur); }
        openCompose();
      } else if (event.key === "Escape") {
        selection = null;
        paintSelection();
      }
    });

    table.addEventListener("focus", function () {
      if (!cursors[file]) { setCursor(file, 1); }
    });
  });

  function setCursor(file, line) {
    var old = document.querySelector('table.code[data-file="' + file + '"] tr.line.cursor');
    if (old) { old.classList.remove("cursor"); }
    cursors[file] = line;
    var row = rowFor(file, line);
    if (row) {
      row.classList.add("cursor");
      row.scrollIntoView({ block: "nearest" });
      $("time-announce").textContent = "";
      announceLine(row);
    }
  }

  var lineAnnouncer = el("p", { "class": "visually-hidden", "aria-live": "polite", id: "line-announce" });
  document.body.appendChild(lineAnnouncer);
  function announceLine(row) {
    lineAnnouncer.textContent = "Line " + row.dataset.line + ": " + row.querySelector("td.src").textContent;
  }

  // -- adding a comment ------------------------------------------------------------------

  function intOrNull(v) { v = String(v || "").trim(); return /^\d+$/.test(v) ? Number(v) : null; }

  var composeKey = storeKey + ":compose";

  /* The comment being written is kept too, though it is not part of the draft until added. */
  function keepCompose() {
    try {
      if (!$("compose-body").value.trim()) { localStorage.removeItem(composeKey); return; }
      localStorage.setItem(composeKey, JSON.stringify({
        file: $("compose-file").value, line: $("compose-line").value,
        end_line: $("compose-end-line").value, severity: $("compose-severity").value,
        body: $("compose-body").value
      }));
    } catch (e) { /* storage full or disabled */ }
  }

  function restoreCompose() {
    var kept = null;
    try { kept = JSON.parse(localStorage.getItem(composeKey) || "null"); } catch (e) { kept = null; }
    if (!kept || !kept.body) { return; }
    $("compose-file").value = kept.file || "";
    $("compose-line").value = kept.line || "";
    $("compose-end-line").value = kept.end_line || "";
    $("compose-severity").value = kept.severity || "";
    $("compose-body").value = kept.body;
    showBanner("info", "The comment you were writing is back in the form on the right; add it when ready.");
  }

  /* Turn the form into a comment; returns an error message, or "" when added. */
  function addFromCompose() {
    var body = $("compose-body").value;
    if (!body.trim()) { return "Write the comment before adding it."; }
    if (body.length > limits.max_comment_chars) {
      return "This comment is " + body.length.toLocaleString() + " characters, the limit is " + limits.max_comment_chars.toLocaleString() + ".";
    }
    if (draft.comments.length >= limits.max_comments) {
      return "You have " + draft.comments.length + " comments, the limit is " + limits.max_comments + ".";
    }
    var file = $("compose-file").value || null;
    var line = file ? intOrNull($("compose-line").value) : null;
    var end = line ? intOrNull($("compose-end-line").value) : null;
    if (end !== null && end < line) { var t = end; end = line; line = t; }
    draft.comments.push({ client_id: newId(), file: file, line: line, end_line: end === line ? null : end,
      severity: $("compose-severity").value || null, body: body });
    changed();
    $("compose-body").value = "";
    $("compose-severity").value = "";
    try { localStorage.removeItem(composeKey); } catch (e) { /* ignore */ }
    return "";
  }

  composeForm.addEventListener("input", keepCompose);
  composeForm.addEventListener("change", keepCompose);
  composeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var problem = addFromCompose();
    if (problem) {
      setStatus("error", problem);
      $("compose-body").focus();
      return;
    }
    closeCompose(!!document.querySelector("tr.compose-row"));
    $("compose-line").value = "";
    $("compose-end-line").value = "";
    render();
    setStatus("", "Unsaved changes…");
  });

  $("compose-body").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      composeForm.requestSubmit ? composeForm.requestSubmit() : composeForm.dispatchEvent(new Event("submit"));
    } else if (event.key === "Escape" && document.querySelector("tr.compose-row")) {
      event.preventDefault();
      closeCompose(true);
    }
  });
  $("compose-cancel").addEventListener("click", function () { closeCompose(true); });

  // -- summary ---------------------------------------------------------------------------

  summaryText.addEventListener("input", function () {
    draft.summary = summaryText.value;
    changed();
  });
  $("summary-form").addEventListener("submit", function (event) {
    event.preventDefault();
    flush();
  });
  $("summary-save").textContent = "Save now";

  // -- leaving the page ------------------------------------------------------------------

  $("review-submit").addEventListener("click", function (event) {
    event.preventDefault();
    // A comment typed but not yet added is part of what the candidate means to send.
    if ($("compose-body").value.trim()) {
      var problem = addFromCompose();
      if (problem) { setStatus("error", problem); $("compose-body").focus(); return; }
      closeCompose(false);
      render();
    }
    setStatus("", "Saving before you submit…");
    flush().then(function (ok) {
      if (ok) { location.href = "/take/submit"; }
      else { showBanner("", "Your latest changes are not saved yet, so they would not be submitted. Check your connection; saving is retried automatically."); }
    });
  });

  function flushOnExit() {
    if (!isDirty() || closed || blocked || inflight) { return; }
    var body = payload();
    if (body.length < 60000) { api("PUT", "/api/candidate/draft", body, true); }
  }
  window.addEventListener("pagehide", flushOnExit);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(); return; }
    api("GET", "/api/candidate").then(function (res) {
      if (!res.ok) { return; }
      if (res.data.status !== "in_progress") { location.href = "/take/receipt"; return; }
      syncClock(res.data.seconds_left);
      if (res.data.draft && res.data.draft.revision !== revision && !isDirty() && !inflight) { location.reload(); }
    });
  });
  window.addEventListener("online", function () { failures = 0; flush(); });

  // -- start -----------------------------------------------------------------------------

  document.querySelectorAll("tr[data-server-thread]").forEach(function (row) { row.remove(); });
  restoreLocal();
  restoreCompose();
  summaryText.value = draft.summary;
  render();
  if (isDirty()) { flush(); } else { persistLocal(); }
  tick();
  setInterval(tick, 1000);
}());

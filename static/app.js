// Small behaviours htmx does not cover: copy buttons, confirmations, error toasts, dialog scrolling.
(function () {
  "use strict";

  function toast(text) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 8000);
  }

  function textOf(html) {
    var doc = new DOMParser().parseFromString(html || "", "text/html");
    return (doc.body.textContent || "").replace(/\s+/g, " ").trim();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || "✓";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select(); document.execCommand("copy"); done();
      });
    } else {
      input.select(); document.execCommand("copy"); done();
    }
  });

  // A failed htmx request is never a silent no-op: show what the server said, or that it is unreachable.
  document.addEventListener("htmx:responseError", function (event) {
    toast(textOf(event.detail.xhr.responseText) || document.body.dataset.errorText || "Ошибка");
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.body.dataset.offlineText || "Нет связи с сервером");
  });

  function scrollDialog() {
    var dialog = document.getElementById("dialog");
    if (dialog) dialog.scrollTop = dialog.scrollHeight;
  }
  function nearBottom() {
    var dialog = document.getElementById("dialog");
    return !dialog || dialog.scrollHeight - dialog.scrollTop - dialog.clientHeight < 120;
  }
  // A message can come both with the note form's answer and over the live stream: keep one.
  function dedupeMessages() {
    var seen = {};
    document.querySelectorAll("#messages > li[id]").forEach(function (item) {
      if (seen[item.id]) item.remove(); else seen[item.id] = true;
    });
    var empty = document.getElementById("dialog-empty");
    if (empty && document.querySelector("#messages > li")) empty.remove();
  }
  document.addEventListener("DOMContentLoaded", scrollDialog);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id === "note-form") { dedupeMessages(); scrollDialog(); }
  });
  // …and at once when the note's answer lands, not only after htmx settles 20 ms later.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "messages") dedupeMessages();
  });

  // Live updates (web/sse.py). The page keeps the id of the last event it got in its stream
  // address, so a stream that htmx opens anew resumes there (the browser's own reconnects
  // send it as Last-Event-ID).
  function remember(id) {
    var body = document.body;
    var url = body.getAttribute("sse-connect");
    if (!url || !id) return;
    url = url.replace(/([?&])after=\d*&?/, "$1").replace(/[?&]$/, "");
    body.setAttribute("sse-connect", url + (url.indexOf("?") < 0 ? "?" : "&") + "after=" + id);
  }
  function firstId(html) {
    var match = /^\s*<[a-z0-9]+[^>]*?\sid="([^"]+)"/i.exec(html || "");
    return match ? match[1] : null;
  }
  // «Показать все» of the card's variables stays open when the block is drawn anew.
  var moreOpen = false;
  function rememberMore() {
    var more = document.getElementById("variables-more");
    moreOpen = !!(more && more.open);
  }
  function restoreMore() {
    var more = document.getElementById("variables-more");
    if (more && moreOpen) more.open = true;
  }
  document.addEventListener("htmx:beforeSwap", rememberMore);
  document.addEventListener("htmx:afterSwap", restoreMore);
  var heldVariables = null; // an update that arrived while the manager was typing in that block
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var target = event.target;
    var data = event.detail.data;
    if (target.getAttribute("hx-swap") === "beforeend") {
      var id = firstId(data);
      var shown = id && document.getElementById(id);
      if (!data || shown) { // shown already (or nothing to show)
        event.preventDefault();
        // A call's item in the dialog changes with its call: anew, in its place.
        if (shown && shown.classList.contains("call-item")) {
          var atBottom = nearBottom();
          htmx.swap(shown, data, { swapStyle: "outerHTML" });
          if (atBottom) scrollDialog(); // it may have grown: a player, a line
        }
        remember(event.detail.lastEventId);
        return;
      }
    }
    if (target.getAttribute("hx-swap") === "afterbegin") { // «Звонки»: a changed call keeps its place
      var row = data && document.getElementById(firstId(data));
      if (!data || row) {
        event.preventDefault();
        if (row) htmx.swap(row, data, { swapStyle: "outerHTML" });
        remember(event.detail.lastEventId);
        return;
      }
      var empty = document.getElementById("journal-empty");
      if (empty) empty.remove();
    }
    if (target.id === "variables-live" && target.contains(document.activeElement) &&
        document.activeElement.matches("input, textarea")) {
      heldVariables = data;
      event.preventDefault();
      remember(event.detail.lastEventId);
      return;
    }
    if (target.id === "variables-live") rememberMore();
    target._wasNearBottom = nearBottom();
  });
  document.addEventListener("focusout", function (event) {
    var block = document.getElementById("variables-live");
    if (!heldVariables || !block || !block.contains(event.target)) return;
    setTimeout(function () {
      if (!heldVariables || block.contains(document.activeElement)) return;
      var data = heldVariables;
      heldVariables = null;
      rememberMore();
      htmx.swap(block, data, { swapStyle: "innerHTML" });
      restoreMore();
    }, 0);
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    remember(event.detail.lastEventId);
    if (event.target.id === "variables-live") restoreMore();
    if (event.target.id === "messages") {
      dedupeMessages();
      if (event.target._wasNearBottom) scrollDialog();
    }
    if (event.target.id === "call-popups") {
      var popup = event.target.lastElementChild;
      // Should the PBX never report the end of the call, the popup still goes.
      if (popup) setTimeout(function () { popup.remove(); }, 180000);
    }
  });
  document.addEventListener("htmx:sseOpen", function (event) {
    var offline = document.getElementById("live-offline");
    if (offline) offline.hidden = true;
    var source = event.detail.source;
    if (source._crmListening) return;
    source._crmListening = true;
    source.addEventListener("popup-close", function (message) {
      remember(message.lastEventId);
      var popup = document.getElementById(message.data);
      if (popup) popup.remove();
    });
    source.addEventListener("reload", function () { window.location.reload(); });
  });
  document.addEventListener("htmx:sseError", function () {
    var offline = document.getElementById("live-offline");
    if (offline) offline.hidden = false;
  });
  // A form with data-confirm asks first (no inline handlers: the Content-Security-Policy
  // allows scripts from files only).
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (!button) return;
    var box = document.querySelector(button.getAttribute("data-dismiss"));
    if (box) box.remove();
  });
})();
// «Пропущенные»: the queue re-reads itself (templates/missed/queue.html), but not while someone
// is choosing a reason to close an item: that would throw away what they typed.
document.addEventListener("htmx:beforeRequest", function (event) {
  var queue = event.target;
  if (queue.id !== "missed-live" || event.detail.requestConfig.verb !== "get") return;
  if (queue.querySelector("details[open]") || queue.contains(document.activeElement) &&
      document.activeElement.matches("input, select, textarea")) event.preventDefault();
});
// «Сотрудники»: the PBX field offers the PBX's users (templates/employees/_pbx_user_field.html).
// A click, Enter or Space on one puts its bare login in the field; ArrowDown goes from the field
// into the list, the arrows move through it, Escape (or a click elsewhere) closes it.
(function () {
  function field() { return document.getElementById("f-pbx_user"); }
  function list() { return document.getElementById("pbx-user-options"); }
  function options() { var l = list(); return l && !l.hidden ? Array.prototype.slice.call(l.querySelectorAll("[role=option]")) : []; }
  function close() {
    var l = list(), input = field();
    if (l) { l.hidden = true; l.innerHTML = ""; }
    document.querySelectorAll("#pbx-suggestions p").forEach(function (p) { p.remove(); });
    if (input) input.setAttribute("aria-expanded", "false");
  }
  document.addEventListener("click", function (event) {
    var option = event.target.closest("[data-pbx-login]");
    var input = field();
    if (!input) return;
    if (!option) {  // a click anywhere else closes the list
      if (!event.target.closest(".pbx-combobox")) close();
      return;
    }
    input.value = option.getAttribute("data-pbx-login");
    close();
    input.focus();
  });
  document.addEventListener("keydown", function (event) {
    var input = field(), all = options();
    if (!input || !all.length) return;
    var at = all.indexOf(document.activeElement);
    if (event.target === input && event.key === "ArrowDown") { all[0].focus(); event.preventDefault(); }
    else if (at >= 0 && event.key === "ArrowDown") { all[Math.min(at + 1, all.length - 1)].focus(); event.preventDefault(); }
    else if (at >= 0 && event.key === "ArrowUp") { (at ? all[at - 1] : input).focus(); event.preventDefault(); }
    else if ((at >= 0 || event.target === input) && event.key === "Escape") { close(); input.focus(); event.preventDefault(); }
  });
  document.addEventListener("focusin", function (event) {
    var option = event.target.closest && event.target.closest("[role=option]");
    options().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
  });
  document.addEventListener("htmx:afterSwap", function () {
    var input = field();
    if (input) input.setAttribute("aria-expanded", options().length ? "true" : "false");
  });
})();

// Small behaviours htmx does not cover: copy buttons, error toasts, dialog scrolling.
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
  document.addEventListener("DOMContentLoaded", scrollDialog);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id === "note-form") scrollDialog();
  });
})();

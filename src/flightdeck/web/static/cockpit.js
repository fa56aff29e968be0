// flightdeck cockpit: auto-refresh that keeps your place, copy buttons, confirmations.
(function () {
  "use strict";

  // Confirm destructive forms (data-confirm="question").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Selects marked data-autosubmit submit their form when changed.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit();
    }
  });

  // Copy buttons: data-copy="id of the element whose text to copy".
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  });

  var period = parseInt(document.body.dataset.refresh || "0", 10);
  if (!period) return;
  var busy = false;

  function userIsBusy() {
    var active = document.activeElement;
    if (active && active !== document.body && active.closest("main") &&
        active.matches("input, select, textarea, button, summary")) {
      return true;
    }
    var selection = window.getSelection ? String(window.getSelection()) : "";
    return selection.length > 0;
  }

  function markStale(stale) {
    var note = document.getElementById("refresh-note");
    if (note) note.classList.toggle("stale", stale);
  }

  // Fetch the same page and swap <main> in place: the scroll position, open <details> and the
  // page around it stay as they were.
  function refresh() {
    if (busy || document.hidden || userIsBusy()) return;
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { "X-Refresh": "1" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.reload(); // the session ended: show the login form
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        var current = document.getElementById("main");
        if (!fresh || !current) return;
        var open = {};
        current.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
        var x = window.scrollX, y = window.scrollY;
        current.replaceWith(document.importNode(fresh, true));
        document.querySelectorAll("#main details[id]").forEach(function (d) {
          if (Object.prototype.hasOwnProperty.call(open, d.id)) d.open = open[d.id];
        });
        window.scrollTo(x, y);
        document.title = doc.title;
        var stamp = document.getElementById("updated");
        var main = document.getElementById("main");
        if (stamp && main) stamp.textContent = main.dataset.generated || "";
        markStale(false);
      })
      .catch(function () { markStale(true); })
      .finally(function () { busy = false; });
  }

  window.setInterval(refresh, period * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
})();

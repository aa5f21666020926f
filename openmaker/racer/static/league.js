// Keeps the leaderboard and "your submissions" current: while the page asks for it (data-refresh seconds on
// <body>), fetch the same page again and swap in the sections marked data-live. No inline code: strict CSP.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!seconds) return;
  function refresh() {
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return schedule(seconds);
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (next) old.replaceWith(document.importNode(next, true));
        });
        var again = parseInt(fresh.body.getAttribute("data-refresh") || "0", 10);
        document.body.setAttribute("data-refresh", String(again));
        if (again) schedule(again);
      })
      .catch(function () { schedule(seconds * 2); });
  }
  function schedule(s) { window.setTimeout(refresh, s * 1000); }
  schedule(seconds);
})();

// Tally explorer: optional enhancements. Every page reads without this.
(function () {
  "use strict";
  // Copy buttons beside shortened references.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button.copy");
    if (!b || !navigator.clipboard) return;
    navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
      b.textContent = "copied";
      setTimeout(function () { b.textContent = "copy"; }, 1200);
    });
  });
  // Live refresh: re-read the page and swap the live region.
  var live = document.querySelector("[data-refresh]");
  if (!live || !window.fetch) return;
  var every = Math.max(2, parseInt(live.getAttribute("data-refresh"), 10) || 5) * 1000;
  function tick() {
    fetch(location.pathname + location.search, { headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-refresh]");
        if (fresh) live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
      })
      .catch(function () {})
      .finally(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();

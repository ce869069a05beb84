// thinktree viewer: node selection and colouring on the tree page, and live
// reloading of pages that show something still running. No dependencies; the
// server renders (and escapes) every text, this script only moves it around.
"use strict";

(function () {
  function selectNode(id) {
    document.querySelectorAll("[data-detail]").forEach(function (detail) {
      detail.hidden = detail.dataset.detail !== id;
    });
    document.querySelectorAll("svg.tree [data-node]").forEach(function (node) {
      node.classList.toggle("selected", node.dataset.node === id);
    });
  }

  document.addEventListener("click", function (event) {
    var node = event.target.closest && event.target.closest("svg.tree [data-node]");
    if (node) selectNode(node.dataset.node);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    var node = event.target.closest && event.target.closest("svg.tree [data-node]");
    if (!node) return;
    event.preventDefault();
    selectNode(node.dataset.node);
  });

  document.addEventListener("change", function (event) {
    if (event.target.name !== "colour") return;
    var key = event.target.value === "score" ? "fillScore" : "fillQ";
    document.querySelectorAll("svg.tree circle.dot").forEach(function (dot) {
      dot.setAttribute("fill", dot.dataset[key]);
    });
    document.body.dataset.colour = event.target.value;
  });

  // Live pages: fetch the same URL again and swap in its <main>.
  function scheduleRefresh() {
    var seconds = Number(document.body.dataset.refresh || 0);
    if (!seconds) return;
    window.setTimeout(refresh, seconds * 1000);
  }

  function refresh() {
    if (document.hidden) {
      scheduleRefresh();
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var main = fresh.getElementById("live");
        if (main) document.getElementById("live").replaceWith(document.adoptNode(main));
        var next = fresh.body.dataset.refresh;
        if (next) document.body.dataset.refresh = next;
        else delete document.body.dataset.refresh;
        setStatus(next ? "live · updated " + new Date().toLocaleTimeString() : "finished");
      })
      .catch(function (error) {
        setStatus("live · update failed (" + error.message + "), retrying");
      })
      .finally(scheduleRefresh);
  }

  function setStatus(text) {
    var status = document.getElementById("live-status");
    if (status) status.textContent = text;
  }

  document.addEventListener("DOMContentLoaded", scheduleRefresh);
})();

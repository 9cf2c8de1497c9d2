// rollgate dashboard: live updates. Hand-written, no dependencies; every page works without it.
//
// - An element with data-poll="URL" (and data-poll-seconds) is re-fetched every few seconds.
// - The run page (#run-live) follows the run's Server-Sent Events stream: each `step` or
//   `run` event re-fetches the server-rendered live fragment and the analysis chart (SVG);
//   the chart is also re-fetched every few seconds while the run is live, since analysis
//   checks are recorded between step events. The stream is closed once the run has ended.
//   The fragment holds the run's action buttons too: Approve… appears when a step starts
//   waiting for approval and goes once that step ends, with the step events that say so.
"use strict";

(function () {
  var TERMINAL = ["succeeded", "failed", "rolled_back", "cancelled"];
  var CHART_SECONDS = 2;

  function parseHtml(text) {
    var doc = new DOMParser().parseFromString(text, "text/html");
    return Array.prototype.map.call(doc.body.childNodes, function (node) {
      return document.importNode(node, true);
    });
  }

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.redirected) {  // the session ended: show the login form instead
        window.location.assign(r.url);
        throw new Error(url + ": redirected to " + r.url);
      }
      if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
      return r.text();
    });
  }

  // A function that runs `task` (returning a promise) at most once at a time, again
  // afterwards when it was asked for meanwhile.
  function coalesced(task) {
    var busy = false, again = false;
    function run() {
      if (busy) { again = true; return; }
      busy = true;
      task().catch(function (err) { console.warn(err); }).then(function () {
        busy = false;
        if (again) { again = false; run(); }
      });
    }
    return run;
  }

  function startPolling(el) {
    var seconds = Number(el.dataset.pollSeconds || "5");
    var refresh = coalesced(function () {
      return fetchText(el.dataset.poll).then(function (html) {
        el.replaceChildren.apply(el, parseHtml(html));
      });
    });
    window.setInterval(function () {
      if (!document.hidden) { refresh(); }
    }, seconds * 1000);
  }

  function followRun(root) {
    var state = TERMINAL.indexOf(root.dataset.status) >= 0 ? "ended" : "connecting";
    var chartBox = document.getElementById("run-chart");
    var source = null, chartTimer = null;

    function showState() {
      var el = root.querySelector(".live-indicator");
      if (!el) { return; }
      el.textContent = { live: "live", connecting: "connecting…", ended: "",
        reconnecting: "reconnecting…" }[state] || "";
      el.classList.toggle("on", state === "live");
    }

    var refreshLive = coalesced(function () {
      return fetchText(root.dataset.live).then(function (html) {
        root.replaceChildren.apply(root, parseHtml(html));
        showState();
      });
    });

    var refreshChart = coalesced(function () {
      if (!chartBox) { return Promise.resolve(); }
      return fetchText(root.dataset.chart).then(function (text) {
        var doc = new DOMParser().parseFromString(text, "image/svg+xml");
        if (doc.getElementsByTagName("parsererror").length) { throw new Error("bad SVG"); }
        chartBox.replaceChildren(document.importNode(doc.documentElement, true));
      });
    });

    function ended() {
      state = "ended";
      if (source) { source.close(); }
      if (chartTimer) { window.clearInterval(chartTimer); }
      refreshLive();
      refreshChart();
    }

    function onEvent(event) {
      if (event.type === "run") {
        var run = JSON.parse(event.data);
        root.dataset.status = run.status;
        if (TERMINAL.indexOf(run.status) >= 0) { ended(); return; }
      }
      refreshLive();
      refreshChart();
    }

    showState();
    if (state === "ended" || !window.EventSource) { return; }
    source = new EventSource(root.dataset.events);
    source.onopen = function () { state = "live"; showState(); };
    source.onerror = function () {
      if (state !== "ended") { state = "reconnecting"; showState(); }
    };
    source.addEventListener("step", onEvent);
    source.addEventListener("run", onEvent);
    chartTimer = window.setInterval(function () {
      if (!document.hidden) { refreshChart(); }
    }, CHART_SECONDS * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), startPolling);
    var run = document.getElementById("run-live");
    if (run) { followRun(run); }
  });
})();

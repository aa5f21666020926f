// Keeps the Models table of the openmaker console current.
//
// The server renders the page complete; this script only fetches
// api/status every two seconds and redraws the table rows. Rows are built
// with textContent, never innerHTML, so model data cannot become markup.
"use strict";

(function () {
  const REFRESH_MS = 2000;
  const rows = document.getElementById("model-rows");
  const empty = document.getElementById("no-models");
  const live = document.getElementById("live");
  let timer = null;
  let busy = false;

  function cell(tag, text, className) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (className) element.className = className;
    return element;
  }

  // Keep in step with _model_row() in render.py, which draws the first state.
  function buildRow(model) {
    const ready = model.readyWorkers;
    const wanted = model.minWorkers;
    const tr = document.createElement("tr");
    tr.dataset.model = model.modelName;
    tr.dataset.version = model.modelVersion;
    tr.appendChild(cell("td", model.modelName, "name"));
    const version = cell("td", model.modelVersion);
    if (model.isDefault) {
      version.appendChild(document.createTextNode(" "));
      version.appendChild(cell("span", "default", "badge"));
    }
    tr.appendChild(version);
    tr.appendChild(cell("td", model.handler));
    const health = wanted === 0 ? "idle" : ready >= wanted ? "ok" : "warn";
    const workers = cell("td", ready + "/" + wanted, "num workers " + health);
    if (model.lastLoadError) workers.title = model.lastLoadError;
    tr.appendChild(workers);
    tr.appendChild(cell("td", model.jobQueueStatus.pendingRequests, "num queue"));
    const example = cell("td");
    example.appendChild(cell("code", model.exampleCurl, "curl"));
    tr.appendChild(example);
    return tr;
  }

  function showState(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }

  async function refresh() {
    timer = null;
    if (busy) return;
    busy = true;
    try {
      const response = await fetch("api/status", { cache: "no-store", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const status = await response.json();
      rows.replaceChildren(...status.models.map(buildRow));
      empty.hidden = status.models.length > 0;
      showState("live", "live \u00b7 updated " + new Date().toLocaleTimeString());
    } catch (error) {
      // Keep the last table: stale numbers marked as such beat an empty page.
      showState("offline", "server unreachable \u00b7 retrying");
    } finally {
      busy = false;
    }
    schedule();
  }

  function schedule() {
    // A hidden tab does not poll; it catches up as soon as it is shown again.
    if (timer === null && !document.hidden) timer = setTimeout(refresh, REFRESH_MS);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer === null && !busy) refresh();
  });
  refresh();
})();

// Status: engines, chains, traffic and recent routing, polled while the tab is visible.
import { ApiError, el, getJson } from "./api.js";

const POLL_MS = 2000;

function stateCell(value) {
  return el("td", {}, el("span", { className: `state state-${String(value).replace(/\W/g, "_")}` }, value));
}

function seconds(value) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(2)} s`;
}

function time(at) {
  return new Date(at * 1000).toLocaleTimeString();
}

function fill(tableId, rows, emptyText, columns) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: columns, className: "muted" }, emptyText))]),
  );
}

function renderSummary(status) {
  const items = [
    ["Mode", status.mode],
    ["Generation", status.generation],
    ["Uptime", `${Math.round(status.uptime_seconds)} s`],
    ["In flight", status.in_flight],
    ["Config file", status.config.file],
    ["Last reload", status.last_reload ? `${status.last_reload.ok ? "ok" : "failed"} (${status.last_reload.trigger})` : "—"],
  ];
  document.getElementById("summary").replaceChildren(
    ...items.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value))),
  );
}

function renderEngines(engines) {
  fill("engines", Object.values(engines).map((e) => {
    const breaker = e.breaker.state === "closed" ? "closed" : `${e.breaker.state} (retry in ${e.breaker.retry_in} s)`;
    return el("tr", { dataset: { engine: e.name } },
      el("th", { scope: "row" }, e.name, el("div", { className: "muted" }, `${e.engine} · ${e.plugin}`)),
      el("td", {}, e.capability),
      stateCell(e.state),
      el("td", {}, e.location),
      stateCell(breaker),
      el("td", { className: "num" }, seconds(e.load_seconds)),
      el("td", { className: "num" }, e.served),
      el("td", { className: "num" }, e.active),
      el("td", { className: "num" }, e.waiting),
      el("td", { className: "error" }, e.last_error || ""));
  }), "No engines configured.", 10);
}

function renderChains(routes) {
  fill("chains", Object.entries(routes).map(([capability, route]) => {
    const active = new Set(route.chain.map((c) => c.engine));
    const states = Object.fromEntries(route.chain.map((c) => [c.engine, c.state]));
    const parts = route.declared.flatMap((name, i) => {
      const part = active.has(name)
        ? el("span", {}, `${name} (${states[name]})`)
        : el("span", { className: "dropped", title: "dropped by mode" }, `${name} (dropped by mode)`);
      return i ? [" → ", part] : [part];
    });
    return el("tr", { dataset: { capability } },
      el("th", { scope: "row" }, capability), stateCell(route.ready ? "true" : "false"),
      el("td", {}, ...parts));
  }), "No routes.", 3);
}

let lastTraffic = null;

function renderTraffic(activity) {
  const before = lastTraffic;
  lastTraffic = { time: activity.time, counts: Object.fromEntries(activity.routes.map((r) => [r.path, r.requests])) };
  fill("traffic", activity.routes.map((route) => {
    let rate = "—";
    if (before && activity.time > before.time) {
      const delta = route.requests - (before.counts[route.path] || 0);
      rate = (delta / (activity.time - before.time)).toFixed(2);
    }
    return el("tr", {},
      el("th", { scope: "row" }, route.path),
      el("td", { className: "num" }, route.requests),
      el("td", { className: "num" }, rate),
      el("td", { className: "num" }, route.mean_latency_ms === null ? "—" : `${route.mean_latency_ms} ms`),
      el("td", { className: "num" }, route.errors));
  }), "No requests yet.", 5);
}

function renderDecisions(decisions) {
  const only = document.getElementById("fallbacks-only").checked;
  const shown = decisions.filter((d) => !only || d.fell_back || d.outcome !== "served");
  fill("decisions", shown.map((d) => el("tr", { className: d.fell_back ? "fallback" : "" },
    el("td", {}, time(d.at)),
    el("td", {}, d.capability),
    d.engine ? el("td", {}, d.engine) : stateCell("exhausted"),
    el("td", {}, d.skipped.map((s) => `${s.engine}: ${s.reason} (${s.message})`).join("; ")))),
  only ? "No fallbacks recently." : "No routed requests yet.", 4);
}

export function setupStatus() {
  let timer = null;
  let visible = true;
  let latestActivity = null;
  const live = document.getElementById("live");
  const problem = document.getElementById("status-error");

  async function refresh() {
    try {
      const [status, activity] = await Promise.all([
        getJson("/control/status"),
        getJson("/control/activity?limit=50"),
      ]);
      latestActivity = activity;
      renderSummary(status);
      renderEngines(status.engines);
      renderChains(status.routes);
      renderTraffic(activity);
      renderDecisions(activity.decisions);
      problem.hidden = true;
      document.getElementById("status-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      problem.hidden = false;
      problem.textContent = error instanceof ApiError && error.status === 403
        ? "The control plane needs this machine or the control token (Credentials, above)."
        : `Status unavailable: ${error.message}`;
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!visible || !live.checked || document.hidden) return;
    timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, POLL_MS);
  }

  live.addEventListener("change", schedule);
  document.addEventListener("visibilitychange", schedule);
  document.getElementById("fallbacks-only").addEventListener("change", () => {
    if (latestActivity) renderDecisions(latestActivity.decisions);
  });

  return {
    refresh,
    visible(shown) {
      visible = shown;
      if (shown) refresh().then(schedule);
      else clearTimeout(timer);
    },
  };
}

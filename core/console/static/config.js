// Configuration: the resolved config, a checker for edited text, and reload.
import { announce, el, getJson, headersFor } from "./api.js";

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, text) => n + text.length + 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + (lines[line - 1] || "").length);
  // Scroll the chosen line into view (about one line height per line).
  const lineHeight = textarea.scrollHeight / Math.max(lines.length, 1);
  textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

function showIssues(result, textarea, title) {
  const box = document.getElementById("config-result");
  const list = el("ul", { className: "issues" }, ...result.issues.map((issue) => {
    const where = issue.line ? `line ${issue.line}` : "file";
    const jump = issue.line
      ? el("button", { type: "button", className: "secondary", onclick: () => selectLine(textarea, issue.line) }, `Go to ${where}`)
      : null;
    return el("li", { dataset: { line: issue.line || "" } }, jump, el("strong", {}, `${where}: `),
      `${issue.path || "<root>"}: ${issue.message}`);
  }));
  box.replaceChildren(el("p", { className: "error" }, title), list);
}

export function setupConfig() {
  const textarea = document.getElementById("config-text");
  const box = document.getElementById("config-result");
  let fileText = "";
  let loaded = false;

  async function load(force = false) {
    if (loaded && !force) return;
    try {
      const view = await getJson("/control/config");
      document.getElementById("config-file").textContent = view.file;
      document.getElementById("resolved").textContent = JSON.stringify(view.resolved, null, 2);
      fileText = view.text || "";
      textarea.value = fileText;
      loaded = true;
    } catch (error) {
      box.replaceChildren(el("p", { className: "error" }, `Cannot read the configuration: ${error.message}`));
    }
  }

  document.getElementById("config-check").addEventListener("click", async () => {
    box.replaceChildren(el("p", { className: "muted" }, "Checking…"));
    try {
      const result = await getJson("/control/config/check", { method: "POST", json: { text: textarea.value } });
      if (result.ok) {
        const chains = Object.entries(result.chains).map(([cap, names]) => el("li", {}, `${cap}: ${names.join(" → ") || "(empty)"}`));
        const warnings = (result.warnings || []).map((w) => el("li", { className: "warn" }, `warning: ${w}`));
        box.replaceChildren(el("p", { className: "state state-ok" }, `OK (mode ${result.mode})`), el("ul", {}, ...chains, ...warnings));
        announce("Configuration is valid.");
      } else {
        showIssues(result, textarea, `${result.issues.length} problem(s) found`);
        announce(`Configuration has ${result.issues.length} problem(s).`);
      }
    } catch (error) {
      box.replaceChildren(el("p", { className: "error" }, error.message));
    }
  });

  document.getElementById("config-reset").addEventListener("click", () => {
    textarea.value = fileText;
    box.replaceChildren();
  });

  document.getElementById("config-reload").addEventListener("click", async () => {
    box.replaceChildren(el("p", { className: "muted" }, "Reloading…"));
    let result;
    try {
      const response = await fetch("/control/reload", {
        method: "POST",
        headers: headersFor("/control/reload"),
      });
      result = await response.json();
    } catch (error) {
      box.replaceChildren(el("p", { className: "error" }, `Reload failed: ${error.message}`));
      return;
    }
    if (result.ok) {
      const parts = ["added", "changed", "removed", "unchanged"].map((k) => `${k}: ${(result[k] || []).join(", ") || "none"}`);
      const failed = Object.entries(result.failed_loads || {}).map(([n, e]) => el("li", { className: "error" }, `${n} failed to load: ${e}`));
      box.replaceChildren(
        el("p", { className: "state state-ok" }, result.skipped ? "Reloaded: the file had not changed." : `Reloaded in ${result.seconds.toFixed(2)} s (generation ${result.generation}).`),
        el("ul", {}, ...parts.map((p) => el("li", {}, p)), ...failed));
      announce("Configuration reloaded.");
      await load(true);
    } else if (result.error && result.error.issues) {
      showIssues(result.error, textarea, "Reload refused; the old configuration keeps serving");
      announce("Reload refused.");
    } else {
      const why = result.error?.message || JSON.stringify(result.error || result);
      box.replaceChildren(el("p", { className: "error" }, `Reload failed: ${why}`));
    }
  });

  return { load };
}

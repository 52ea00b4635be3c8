// The console's entry point: tabs, credentials, and each section's setup.
import { announce, credentials, saveCredentials } from "./api.js";
import { setupStatus } from "./status.js";
import { setupConfig } from "./config.js";
import { setupPlayground } from "./playground.js";
import { setupLive } from "./live.js";

function setupTabs(onShow) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const show = (tab, focus) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tab.getAttribute("aria-controls")}`);
    onShow(tab.getAttribute("aria-controls"));
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => show(tab, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) show(tabs[(index + step + tabs.length) % tabs.length], true);
      if (event.key === "Home") show(tabs[0], true);
      if (event.key === "End") show(tabs[tabs.length - 1], true);
    });
  });
  const wanted = tabs.find((t) => `#${t.getAttribute("aria-controls")}` === location.hash);
  show(wanted || tabs[0], false);
}

function setupCredentials(onChange) {
  const form = document.getElementById("credentials-form");
  const { apiKey, controlToken } = credentials();
  form.elements["api-key"].value = apiKey;
  form.elements["control-token"].value = controlToken;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveCredentials(form.elements["api-key"].value.trim(), form.elements["control-token"].value.trim());
    announce("Credentials saved for this tab.");
    onChange();
  });
}

const status = setupStatus();
const config = setupConfig();
const playground = setupPlayground();
setupLive();
setupCredentials(() => {
  status.refresh();
  playground.refresh();
});
setupTabs((section) => {
  status.visible(section === "status");
  if (section === "config") config.load();
  if (section === "playground") playground.refresh();
});

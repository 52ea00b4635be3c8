// Calls to the daemon with this tab's credentials: the API key for /v1, the control token for
// /control (loopback visitors need none). Credentials stay in this tab's sessionStorage.

const KEY = "voxgate.apiKey";
const TOKEN = "voxgate.controlToken";

export function credentials() {
  return {
    apiKey: sessionStorage.getItem(KEY) || "",
    controlToken: sessionStorage.getItem(TOKEN) || "",
  };
}

export function saveCredentials(apiKey, controlToken) {
  sessionStorage.setItem(KEY, apiKey);
  sessionStorage.setItem(TOKEN, controlToken);
}

export function headersFor(path, extra = {}) {
  const { apiKey, controlToken } = credentials();
  const headers = { ...extra };
  if (path.startsWith("/control")) {
    if (controlToken) headers["X-Voxgate-Control-Token"] = controlToken;
  } else if (apiKey) {
    headers.Authorization = `Bearer ${apiKey}`;
  }
  return headers;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch {
    // not JSON: the status line says enough
  }
  return new ApiError(response.status, message);
}

// A fetch that throws ApiError with the daemon's own message on a non-2xx answer.
export async function request(path, { method = "GET", json, body, headers = {}, signal } = {}) {
  const init = { method, signal, headers: headersFor(path, headers) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

// Server-sent events of a streamed answer, as parsed JSON objects (stops at [DONE]).
export async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        if (data) yield JSON.parse(data);
      }
    }
  }
}

export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = text;
}

// Small DOM helper: el("td", {className: "num"}, "12")
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset || {});
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

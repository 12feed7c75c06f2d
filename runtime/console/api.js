// The API client: every call goes to this runtime's /v1 API. The token the user typed is kept
// in this tab's sessionStorage only and sent as a bearer token with mutations (and with reads,
// in case a deployment puts reads behind it too).

const KEY = "weir.token";

export function token() {
  try { return sessionStorage.getItem(KEY) || ""; } catch { return ""; }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  } catch { /* storage refused: the token lasts until the page reloads */ }
}

/** An API failure: HTTP status, the API's stable `code` and its message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; returns the parsed JSON (or text), throws ApiError on any failure. */
export async function call(method, path, body, contentType) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
    body = JSON.stringify(body);
    contentType = "application/json";
  }
  if (contentType) headers["Content-Type"] = contentType;
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "unreachable", `the runtime does not answer (${err.message})`);
  }
  const text = await response.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: /metrics, probes */ }
  if (!response.ok) {
    const error = data && data.error;
    throw new ApiError(response.status, error ? error.code : `http_${response.status}`,
      error ? error.message : `${method} ${path} answered ${response.status}`);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body, contentType) => call("POST", path, body, contentType);

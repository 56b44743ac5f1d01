// The review API on this page's own origin. The key lives in sessionStorage (this tab,
// this session) and only ever travels in the Authorization header: never in a URL, never
// logged.

const KEY = "cashback.console.key";
// On AWS the page is /<stage>/console/; the API is the same stage.
export const BASE = location.pathname.replace(/\/console(\/.*)?$/, "");

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
    this.details = details || null;
  }

  // A route this API does not serve yet (or this key's scope does not reach): the page
  // shows "not available" instead of failing.
  get unavailable() {
    return (
      this.status === 403 ||
      this.status === 405 ||
      (this.status === 404 && (this.code === "route_not_found" || this.code === "")) ||
      this.code === "not_implemented"
    );
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
  signedIn() {
    return Boolean(this.key);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
};

export async function call(method, path, { body, params, key } = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${key || session.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let reply;
  try {
    reply = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "network", "the API did not answer; check the connection");
  }
  const text = await reply.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!reply.ok) {
    const problem = (data && (data.error || data)) || {};
    throw new ApiError(reply.status, problem.code, problem.message, problem.details);
  }
  return data;
}

export const get = (path, params) => call("GET", path, { params });
export const post = (path, body) => call("POST", path, { body: body ?? {} });
export const put = (path, body) => call("PUT", path, { body: body ?? {} });
export const del = (path) => call("DELETE", path);

// Check a key before keeping it: the queue is what every review key may read.
export async function checkKey(key) {
  await call("GET", "/v1/reviews", { params: { limit: 1 }, key });
}

export function segment(value) {
  return encodeURIComponent(value);
}

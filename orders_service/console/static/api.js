// The JSON API, as /openapi.json describes it, with the staff token kept in sessionStorage.

const TOKEN = "orders-service.token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The service answered ${status}.`);
    this.status = status;
    this.errors = body && body.errors;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (value) => sessionStorage.setItem(TOKEN, value.trim()),
  clear: () => sessionStorage.removeItem(TOKEN),
};

// Paths are relative to the page's base, so the console works under a proxy's prefix too.
function url(path, query) {
  const address = new URL(path.replace(/^\//, ""), document.baseURI);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") address.searchParams.set(name, value);
  }
  return address;
}

/** The cursor of the next page, from the Link header's rel="next", or null. */
function nextCursor(response) {
  const link = response.headers.get("Link") || "";
  const next = link.split(",").find((part) => /rel="?next"?/.test(part));
  if (!next) return null;
  const target = next.slice(next.indexOf("<") + 1, next.indexOf(">"));
  return new URL(target, document.baseURI).searchParams.get("starting_after");
}

let onUnauthorized = () => {};
/** What to do when the token is refused (expired, revoked): the app goes back to sign-in. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * call("GET", "/orders", {query, body, headers}) -> {data, next, status}.
 * A refusal throws ApiError with the service's message; a 401 also signs out.
 */
export async function call(method, path, { query, body, headers } = {}) {
  const options = { method, headers: { Accept: "application/json", ...headers } };
  const bearer = token.get();
  if (bearer) options.headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), options);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    // Refused for the token it was sent with, not one signed in with since.
    if (response.status === 401 && token.get() === bearer) onUnauthorized(error);
    throw error;
  }
  return { data, next: nextCursor(response), status: response.status };
}

export const get = (path, query) => call("GET", path, { query });

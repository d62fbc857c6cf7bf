// Addresses: each page is a hash route, so a reload or a pasted link opens the same page.

/** {path, query} of the current address: #/orders?status=paid -> "/orders", status=paid. */
export function route() {
  const hash = location.hash.replace(/^#/, "") || "/orders";
  const [path, search = ""] = hash.split("?");
  return { path, query: new URLSearchParams(search) };
}

/** Go to `path` with `query` (an object; empty values left out), as a new history entry. */
export function go(path, query = {}) {
  const search = new URLSearchParams(
    Object.entries(query).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  ).toString();
  location.hash = `#${path}${search ? `?${search}` : ""}`;
}

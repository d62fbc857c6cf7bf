// Orders: newest first, keyset pages, filters in the address; an order id jumps to it.
import { get } from "./api.js";
import { fill, h, money, when } from "./dom.js";
import { go } from "./router.js";

export const STATUSES = ["pending", "authorized", "paid", "shipped", "completed", "canceled", "refunded"];
const FILTERS = ["status", "userId", "from", "to"];

// A day in the staff's own time zone, as the API's instants (createdAfter/createdBefore);
// anything but a YYYY-MM-DD day (a hand-edited address) is no filter.
function dayStart(day, plusDays = 0) {
  const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!parts) return undefined;
  const [year, month, date] = parts.slice(1).map(Number);
  const start = new Date(year, month - 1, date);
  if (start.getMonth() !== month - 1 || start.getDate() !== date) return undefined; // 2024-13-45
  start.setDate(date + plusDays);
  return start.toISOString();
}

function filterForm(query) {
  const status = h("select", { name: "status", id: "f-status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s, selected: query.get("status") === s }, s)));
  const inputs = {
    status,
    userId: h("input", { name: "userId", id: "f-user", inputmode: "numeric", pattern: "[0-9]*", size: 8, value: query.get("userId") || "" }),
    from: h("input", { name: "from", id: "f-from", type: "date", value: query.get("from") || "" }),
    to: h("input", { name: "to", id: "f-to", type: "date", value: query.get("to") || "" }),
  };
  const jump = h("input", { name: "orderId", id: "f-order", inputmode: "numeric", pattern: "[0-9]*", size: 8 });
  return h("div", { class: "filters" },
    h("form", { class: "row", role: "search", "aria-label": "Filter orders", onsubmit: (event) => {
      event.preventDefault();
      go("/orders", Object.fromEntries(FILTERS.map((name) => [name, inputs[name].value.trim()])));
    } },
      h("label", { for: "f-status" }, "Status"), status,
      h("label", { for: "f-user" }, "Customer id"), inputs.userId,
      h("label", { for: "f-from" }, "From"), inputs.from,
      h("label", { for: "f-to" }, "To (incl.)"), inputs.to,
      h("button", { type: "submit" }, "Filter"),
      h("a", { href: "#/orders" }, "Clear")),
    h("form", { class: "row", "aria-label": "Open an order", onsubmit: (event) => {
      event.preventDefault();
      if (/^\d+$/.test(jump.value.trim())) go(`/orders/${jump.value.trim()}`);
    } },
      h("label", { for: "f-order" }, "Order id"), jump,
      h("button", { type: "submit" }, "Open")));
}

function row(order) {
  const items = order.products.reduce((sum, line) => sum + line.quantity, 0);
  return h("tr", {},
    h("td", {}, h("a", { href: `#/orders/${order.id}` }, `#${order.id}`)),
    h("td", {}, when(order.date)),
    h("td", {}, String(order.userId)),
    h("td", {}, h("span", { class: `status ${order.status}` }, order.status)),
    h("td", {}, order.fulfillmentStatus),
    h("td", { class: "num" }, String(items)),
    h("td", { class: "num" }, money(order.amountInCents, order.currency)),
    h("td", { class: "num" }, order.amountRefundedInCents ? money(order.amountRefundedInCents, order.currency) : ""),
  );
}

export async function ordersPage(main, query) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""]));
  const args = {
    limit: 20,
    status: filters.status,
    userId: filters.userId,
    createdAfter: filters.from && dayStart(filters.from),
    createdBefore: filters.to && dayStart(filters.to, 1),
    starting_after: query.get("after"),
  };
  fill(main, h("h1", {}, "Orders"), filterForm(query), h("p", { class: "muted" }, "Loading…"));
  const { data, next } = await get("/orders", args);
  performance.mark("orders:answered");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    query.get("after") ? h("a", { href: "#/orders?" + new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString() }, "First page") : null,
    next ? h("button", { type: "button", onclick: () => go("/orders", { ...filters, after: next }) }, "Next page") : null);
  const table = data.length
    ? h("table", { class: "orders" },
      h("caption", { class: "sr-only" }, "Orders, newest first"),
      h("thead", {}, h("tr", {}, ["Order", "Placed", "Customer", "Status", "Fulfilment", "Items", "Total", "Refunded"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, data.map(row)))
    : h("p", { class: "empty" }, "No orders match.");
  fill(main, h("h1", {}, "Orders"), filterForm(query), h("div", { class: "scroll" }, table), pager);
  // Drawn: the frame after the rows went in has been painted (with how many rows it showed).
  const rows = data.length;
  requestAnimationFrame(() => setTimeout(() => performance.mark("orders:drawn", { detail: { rows } })));
}

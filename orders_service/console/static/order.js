// One order: lines, money, dispute, payment, the moves the life cycle allows, fulfilments,
// refunds, history.
import { call, get } from "./api.js";
import { dialog, field, fill, h, minorUnits, money, notify, outsideLink, when } from "./dom.js";

// The label of the button for each move; the service says which moves there are (nextStatuses).
const MOVES = {
  paid: "Mark paid (by hand)",
  shipped: "Mark shipped",
  completed: "Mark completed",
  canceled: "Cancel order",
  refunded: "Refund the rest",
};
const ASK_FIRST = new Set(["canceled", "refunded"]);
// An authorized order's move to paid takes the held money: say so on its button.
const CAPTURE = "Capture the payment";
// The statuses that take a fulfilment while something is left to send (the service's rule).
const FULFILLABLE = new Set(["authorized", "paid", "shipped"]);

/** A key for one intended request, so that a retry or a double click refunds once. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Adds `lines` ([{productId, quantity}]) to `units` (product id -> units); returns `units`. */
function addUnits(units, lines) {
  for (const line of lines) units.set(line.productId, (units.get(line.productId) || 0) + line.quantity);
  return units;
}

/** What refunds took, or are taking, of each product and in all (failed ones gave back). */
function taken(refunds) {
  const lines = new Map();
  let amount = 0;
  for (const refund of refunds) {
    if (refund.status === "failed") continue;
    amount += refund.amountInCents;
    addUnits(lines, refund.lines);
  }
  return { amount, lines };
}

/** Units of each product sent, and left to send: bought, less sent, less refunded by line. */
function shipping(order, used) {
  const sent = new Map();
  for (const fulfillment of order.fulfillments) addUnits(sent, fulfillment.lines);
  const left = new Map(order.products.map((line) => [line.id,
    Math.max(0, line.quantity - (sent.get(line.id) || 0) - (used.lines.get(line.id) || 0))]));
  return { sent, left, units: [...left.values()].reduce((sum, units) => sum + units, 0) };
}

/** Whether the order takes a fulfilment now: a paid one whose shipping an open dispute holds
 * does not (the life cycle leaves shipped out of its moves then). */
function fulfillable(order, parcels) {
  if (!FULFILLABLE.has(order.status) || parcels.units === 0) return false;
  return order.status !== "paid" || order.nextStatuses.includes("shipped");
}

/** The money a fulfilment of an authorized order captures: the whole order, less refunds. */
function toCapture(order) {
  return money(order.amountInCents - order.amountRefundedInCents, order.currency);
}

/** The note an authorized order's page (`props` {id}) and its fulfil dialog carry. */
function captureNote(order, props = {}) {
  return h("p", { class: "note", ...props },
    `The card is held, not charged: fulfilling this order captures the payment (${toCapture(order)}) first.`,
    order.authorizationExpiresAt ? ` The hold ends ${when(order.authorizationExpiresAt)}: after that the payment can no longer be captured.` : "");
}

/** "2 × Grey Hoodie (M), 1 × Logo Mug": lines by the order's own product names. */
function linesText(order, lines) {
  const names = new Map(order.products.map((line) => [line.id, line.name]));
  return lines.map((line) => `${line.quantity} × ${names.get(line.productId) || `#${line.productId}`}`).join(", ");
}

function fulfillmentItem(order, fulfillment) {
  const parcel = [fulfillment.carrier, fulfillment.trackingNumber].filter(Boolean).join(" ");
  return h("li", {},
    h("time", { datetime: fulfillment.createdAt }, when(fulfillment.createdAt)), `: ${linesText(order, fulfillment.lines)}`,
    parcel ? `, ${parcel}` : "",
    fulfillment.trackingUrl ? [" (", outsideLink(fulfillment.trackingUrl, "track the parcel"), ")"] : "",
    fulfillment.notifyCustomer ? ", customer notified" : "",
    h("span", { class: "actor" }, ` by ${fulfillment.actor}`));
}

export async function orderPage(main, orderId) {
  const [order, history, refunds, events] = await Promise.all([
    get(`/orders/${orderId}`),
    get(`/orders/${orderId}/history`),
    get(`/orders/${orderId}/refunds`),
    get("/events", { orderId, limit: 50 }),
  ]).then((answers) => answers.map((answer) => answer.data));
  const reload = () => orderPage(main, orderId);
  const used = taken(refunds);
  const left = order.amountInCents - used.amount;
  const parcels = shipping(order, used);
  const authorized = order.status === "authorized";
  const currency = order.currency;

  async function move(status) {
    try {
      await call("POST", "/orders/status-update", { body: { orderId, status } });
      notify(`Order #${orderId} is ${status}.`);
    } catch (error) {
      notify(error.message, "error");
    }
    await reload();
  }

  function askThenMove(status) {
    const box = dialog(`${MOVES[status]}?`,
      h("p", {}, status === "canceled"
        ? "The payment is canceled at the provider and the stock goes back."
        : `${money(left, currency)} goes back to the buyer and the order becomes refunded.`),
      h("div", { class: "row" },
        h("button", { type: "button", class: "danger", onclick: () => { box.close(); move(status); } }, MOVES[status]),
        h("button", { type: "button", onclick: () => box.close() }, "Keep it")));
  }

  const moves = h("div", { class: "row moves", role: "group", "aria-label": "Moves" },
    order.nextStatuses.length
      ? order.nextStatuses.map((status) => h("button", {
        type: "button", class: ASK_FIRST.has(status) ? "danger" : "", dataset: { move: status },
        onclick: () => (ASK_FIRST.has(status) ? askThenMove(status) : move(status)),
      }, authorized && status === "paid" ? CAPTURE : MOVES[status] || status))
      : h("span", { class: "muted" }, `No move is possible from ${order.status}.`),
    fulfillable(order, parcels)
      ? h("button", { type: "button", onclick: () => fulfilDialog(order, parcels, reload) }, "Fulfil…")
      : null,
    order.nextStatuses.includes("refunded") && left > 0
      ? h("button", { type: "button", onclick: () => refundDialog(order, used, reload) }, "Refund…")
      : null);

  const lines = h("table", { class: "lines" },
    h("thead", {}, h("tr", {}, ["Product", "Price", "Quantity", "Sent", "Refunded", "Line total"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, order.products.map((line) => h("tr", {},
      h("td", {}, line.name, h("span", { class: "muted" }, ` #${line.id}`)),
      h("td", { class: "num" }, money(line.priceInCents, currency)),
      h("td", { class: "num" }, String(line.quantity)),
      h("td", { class: "num" }, String(parcels.sent.get(line.id) || 0)),
      h("td", { class: "num" }, String(used.lines.get(line.id) || 0)),
      h("td", { class: "num" }, money(line.priceInCents * line.quantity, currency))))));

  const dispute = order.dispute
    ? h("p", { class: "dispute" }, `Disputed: ${order.dispute.status} (${order.dispute.reason || "no reason given"}), ${money(order.dispute.amountInCents, currency)}`)
    : null;

  fill(main,
    h("p", {}, h("a", { href: "#/orders" }, "← Orders")),
    h("h1", {}, `Order #${order.id} `, h("span", { class: `status ${order.status}`, id: "order-status" }, order.status)),
    h("dl", { class: "facts" },
      h("dt", {}, "Customer"), h("dd", {}, h("a", { href: `#/orders?userId=${order.userId}` }, String(order.userId))),
      h("dt", {}, "Placed"), h("dd", {}, when(order.date)),
      h("dt", {}, "Total"), h("dd", { id: "order-total" }, money(order.amountInCents, currency)),
      h("dt", {}, "Refunded"), h("dd", { id: "order-refunded" }, money(order.amountRefundedInCents, currency)),
      h("dt", {}, "Left to refund"), h("dd", { id: "order-left" }, money(left, currency)),
      h("dt", {}, "Payment"), h("dd", {}, order.paymentIntentId || "local provider"),
      authorized ? [h("dt", {}, "Hold ends"), h("dd", { id: "order-hold-ends" }, when(order.authorizationExpiresAt) || "not known")] : null,
      h("dt", {}, "Fulfilment"), h("dd", { id: "order-fulfillment" }, order.fulfillmentStatus,
        parcels.units && order.fulfillmentStatus !== "unfulfilled" ? ` (${parcels.units} left to send)` : "")),
    authorized ? captureNote(order, { id: "capture-note" }) : null,
    dispute,
    moves,
    h("h2", {}, "Lines"), h("div", { class: "scroll" }, lines),
    h("h2", {}, "Fulfilments"),
    order.fulfillments.length
      ? h("ul", { class: "fulfillments", id: "fulfillments" }, order.fulfillments.map((fulfillment) => fulfillmentItem(order, fulfillment)))
      : h("p", { class: "muted" }, "None."),
    h("h2", {}, "Refunds"),
    refunds.length
      ? h("ul", { class: "refunds" }, refunds.map((refund) => h("li", {},
        `${when(refund.createdAt)}: ${money(refund.amountInCents, currency)} ${refund.status}`,
        refund.lines.length ? ` (${refund.lines.map((l) => `${l.quantity} × #${l.productId}`).join(", ")}${refund.restock ? ", restocked" : ""})` : "",
        ` by ${refund.actor}`, refund.reason ? `: ${refund.reason}` : "")))
      : h("p", { class: "muted" }, "None."),
    h("h2", {}, "History"),
    h("ol", { class: "timeline", id: "history" }, history.map((change) => h("li", {},
      h("time", { datetime: change.at }, when(change.at)), " ",
      change.from ? `${change.from} → ${change.to}` : `placed, ${change.to}`,
      h("span", { class: "actor" }, ` by ${change.actor}`)))),
    h("h2", {}, "Events"),
    events.length
      ? h("ul", { class: "events" }, events.map((event) => h("li", {},
        h("code", {}, event.type), ` ${when(event.createdAt)} `, h("span", { class: "muted" }, event.id))))
      : h("p", { class: "muted" }, "None."),
  );
}

function refundDialog(order, used, reload) {
  const currency = order.currency;
  const left = order.amountInCents - used.amount;
  const key = idempotencyKey(); // one per dialog: a second click sends the same refund
  const kind = (value, label, checked) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "kind", value, checked }), ` ${label}`);
  const amount = h("input", { id: "refund-amount", inputmode: "decimal", autocomplete: "off", placeholder: money(left, currency) });
  const restock = h("input", { type: "checkbox", id: "refund-restock", checked: true });
  const quantities = order.products.map((line) => {
    const most = line.quantity - (used.lines.get(line.id) || 0);
    return { line, most, input: h("input", { type: "number", min: 0, max: most, value: "0", disabled: most === 0, "aria-label": `Quantity of ${line.name} to refund` }) };
  });
  const reason = h("input", { id: "refund-reason", maxlength: 500 });
  const problem = h("p", { class: "error", role: "alert" });
  const form = h("form", { method: "dialog" },
    h("p", {}, `Left to refund: ${money(left, currency)}`),
    h("fieldset", {}, h("legend", {}, "Refund"),
      kind("rest", `the rest (${money(left, currency)})`, true),
      kind("amount", "an amount", false),
      kind("lines", "lines", false)),
    field("Amount", amount),
    h("table", { class: "lines" }, h("tbody", {}, quantities.map(({ line, most, input }) =>
      h("tr", {}, h("td", {}, line.name), h("td", { class: "num" }, `${most} left`), h("td", {}, input))))),
    h("label", { class: "choice" }, restock, " Put the lines back in stock"),
    field("Reason", reason),
    problem,
    h("div", { class: "row" },
      h("button", { type: "submit", value: "refund", class: "danger" }, "Refund"),
      h("button", { type: "button", onclick: () => box.close() }, "Close")));
  const box = dialog(`Refund order #${order.id}`, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = form.elements.kind.value;
    const body = { reason: reason.value.trim() || null };
    if (chosen === "rest") body.amountInCents = left;
    if (chosen === "amount") {
      body.amountInCents = minorUnits(amount.value, currency);
      if (!body.amountInCents) {
        fill(problem, `Type an amount of ${currency.toUpperCase()}, such as ${money(left, currency)} at most.`);
        return;
      }
    }
    if (chosen === "lines") {
      body.lines = quantities.filter(({ input }) => Number(input.value) > 0)
        .map(({ line, input }) => ({ productId: line.id, quantity: Number(input.value) }));
      body.restock = restock.checked;
    }
    try {
      const { data } = await call("POST", `/orders/${order.id}/refunds`, { body, headers: { "Idempotency-Key": key } });
      box.close();
      notify(`Refund of ${money(data.amountInCents, currency)}: ${data.status}.`);
      await reload();
    } catch (error) {
      fill(problem, error.message);
    }
  });
}

function fulfilDialog(order, parcels, reload) {
  const key = idempotencyKey(); // one per dialog: a second click sends the parcel once
  const authorized = order.status === "authorized";
  const quantities = order.products.map((line) => {
    const most = parcels.left.get(line.id);
    return { line, input: h("input", { type: "number", min: 0, max: most, value: String(most), disabled: most === 0, "aria-label": `Quantity of ${line.name} to send` }) };
  });
  const carrier = h("input", { id: "fulfil-carrier", maxlength: 100, autocomplete: "off" });
  const number = h("input", { id: "fulfil-number", maxlength: 100, autocomplete: "off", spellcheck: "false" });
  const link = h("input", { id: "fulfil-link", type: "url", maxlength: 2048, autocomplete: "off", placeholder: "https://…" });
  const tell = h("input", { type: "checkbox", id: "fulfil-notify", checked: true });
  const problem = h("p", { class: "error", role: "alert" });
  const form = h("form", { method: "dialog" },
    authorized ? captureNote(order) : null,
    h("table", { class: "lines" }, h("tbody", {}, quantities.map(({ line, input }) =>
      h("tr", {}, h("td", {}, line.name), h("td", { class: "num" }, `${parcels.left.get(line.id)} left to send`), h("td", {}, input))))),
    field("Carrier", carrier),
    field("Tracking number", number),
    field("Tracking link", link),
    h("label", { class: "choice" }, tell, " Notify the customer (the shop's mailer sends it)"),
    problem,
    h("div", { class: "row" },
      h("button", { type: "submit", value: "fulfil" }, authorized ? "Capture and fulfil" : "Fulfil"),
      h("button", { type: "button", onclick: () => box.close() }, "Close")));
  const box = dialog(`Fulfil order #${order.id}`, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Always the lines staff see, never "everything left": had a colleague sent some since,
    // the service refuses this parcel instead of sending what nobody chose.
    const lines = quantities.filter(({ input }) => Number(input.value) > 0)
      .map(({ line, input }) => ({ productId: line.id, quantity: Number(input.value) }));
    if (!lines.length) {
      fill(problem, "Send at least one unit.");
      return;
    }
    const typed = (input) => input.value.trim() || null;
    const body = { lines, carrier: typed(carrier), trackingNumber: typed(number), trackingUrl: typed(link), notifyCustomer: tell.checked };
    try {
      const { data } = await call("POST", `/orders/${order.id}/fulfillments`, { body, headers: { "Idempotency-Key": key } });
      box.close();
      notify(`Fulfilment #${data.id} of order #${order.id}: ${linesText(order, data.lines)}.`);
      await reload();
    } catch (error) {
      fill(problem, error.message);
    }
  });
}

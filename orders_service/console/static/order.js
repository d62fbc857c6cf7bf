// One order: lines, money, dispute, payment, the moves the life cycle allows, refunds, history.
import { call, get } from "./api.js";
import { dialog, field, fill, h, minorUnits, money, notify, when } from "./dom.js";

// The label of the button for each move; the service says which moves there are (nextStatuses).
const MOVES = {
  paid: "Mark paid (by hand)",
  shipped: "Mark shipped",
  completed: "Mark completed",
  canceled: "Cancel order",
  refunded: "Refund the rest",
};
const ASK_FIRST = new Set(["canceled", "refunded"]);

/** A key for one intended request, so that a retry or a double click refunds once. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What refunds took, or are taking, of each product and in all (failed ones gave back). */
function taken(refunds) {
  const lines = new Map();
  let amount = 0;
  for (const refund of refunds) {
    if (refund.status === "failed") continue;
    amount += refund.amountInCents;
    for (const line of refund.lines) lines.set(line.productId, (lines.get(line.productId) || 0) + line.quantity);
  }
  return { amount, lines };
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
      }, MOVES[status] || status))
      : h("span", { class: "muted" }, `No move is possible from ${order.status}.`),
    order.nextStatuses.includes("refunded") && left > 0
      ? h("button", { type: "button", onclick: () => refundDialog(order, used, reload) }, "Refund…")
      : null);

  const lines = h("table", { class: "lines" },
    h("thead", {}, h("tr", {}, ["Product", "Price", "Quantity", "Refunded", "Line total"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, order.products.map((line) => h("tr", {},
      h("td", {}, line.name, h("span", { class: "muted" }, ` #${line.id}`)),
      h("td", { class: "num" }, money(line.priceInCents, currency)),
      h("td", { class: "num" }, String(line.quantity)),
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
      h("dt", {}, "Payment"), h("dd", {}, order.paymentIntentId || "local provider")),
    dispute,
    moves,
    h("h2", {}, "Lines"), h("div", { class: "scroll" }, lines),
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

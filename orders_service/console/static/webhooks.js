// Webhooks: the endpoints and their state, one endpoint with its actions (ping, rotate the
// secret, disable/enable, replay, delete), its deliveries by state, each one's attempts and
// a retry. A signing secret is shown once, when it is made (creation, rotation).
import { call, get } from "./api.js";
import { dialog, field, fill, h, notify, when } from "./dom.js";
import { go } from "./router.js";

let subscribable = null; // the event types, read once from the API document

/** The types an endpoint may subscribe to, as POST /webhook-endpoints documents them, so a
 * type the service adds is offered without a change here. */
async function eventTypes() {
  if (!subscribable) {
    const { data } = await get("/openapi.json");
    const body = data.paths["/webhook-endpoints"].post.requestBody.content["application/json"].schema;
    const schema = body.$ref ? data.components.schemas[body.$ref.split("/").pop()] : body;
    subscribable = schema.properties.events.items.enum.filter((type) => type !== "*");
  }
  return subscribable;
}
const STATES = ["pending", "delivered", "failed"];
const COLUMNS = ["Endpoint", "State", "Failed deliveries", "Events", "Description", "Added"];
const WATCH_EVERY_MS = 1000;
const WATCH_FOR_MS = 120_000;

// A new secret, from the answer that made it, for the endpoint page drawn next (then dropped).
const fresh = new Map();

const path = (id, rest = "") => `/webhook-endpoints/${id}${rest}`;
const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

export async function webhooksPage(main, endpointId, query = new URLSearchParams()) {
  // Staff went elsewhere: the page's view is off screen (app.js), so its watch stops.
  const stale = () => !main.isConnected;
  if (endpointId) return endpointPage(main, endpointId, query, stale);
  return endpointsPage(main, query, stale);
}

/* The list: every endpoint, newest first, and the form that adds one. */

async function endpointsPage(main, query, stale) {
  const after = query.get("after");
  fill(main, h("h1", {}, "Webhooks"), h("p", { class: "muted" }, "Loading…"));
  const { data, next } = await get("/webhook-endpoints", { limit: 20, starting_after: after });
  if (stale()) return;
  const failures = new Map(data.map((endpoint) => [endpoint.id, h("span", { class: "muted" }, "…")]));
  const table = data.length
    ? h("table", { class: "endpoints" },
      h("caption", { class: "sr-only" }, "Webhook endpoints, newest first"),
      h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, data.map((endpoint) => h("tr", { dataset: { endpoint: endpoint.id } },
        [
          [h("a", { href: `#/webhooks/${endpoint.id}` }, endpoint.url), h("span", { class: "muted" }, ` #${endpoint.id}`)],
          stateBadge(endpoint),
          failures.get(endpoint.id),
          eventsText(endpoint.events),
          endpoint.description || h("span", { class: "muted" }, "—"),
          when(endpoint.createdAt),
        ].map((value, n) => h("td", { class: "wrap", dataset: { label: COLUMNS[n] } }, h("span", {}, value)))))))
    : h("p", { class: "empty" }, after ? "No more endpoints." : "No webhook endpoints yet: add one below.");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    after ? h("a", { href: "#/webhooks" }, "First page") : null,
    next ? h("button", { type: "button", onclick: () => go("/webhooks", { after: next }) }, "Next page") : null);
  fill(main, h("h1", {}, "Webhooks"), h("div", { class: "scroll" }, table), pager, addForm(await eventTypes()));
  countFailures(failures);
}

/** Each endpoint's failed deliveries (up to 100, then "100+"), as a link to them. */
async function countFailures(cells) {
  await Promise.all([...cells].map(async ([id, cell]) => {
    let text;
    try {
      const { data, next } = await get(path(id, "/deliveries"), { state: "failed", limit: 100 });
      text = data.length ? `${data.length}${next ? "+" : ""} failed` : null;
    } catch {
      text = "?";
    }
    cell.replaceWith(text
      ? h("a", { href: `#/webhooks/${id}?state=failed`, class: "failing" }, text)
      : h("span", { class: "muted" }, "none"));
  }));
}

function addForm(types) {
  const url = h("input", { id: "wh-url", name: "url", type: "url", required: true, placeholder: "https://example.com/hook", autocomplete: "off", maxlength: 2048 });
  const description = h("input", { id: "wh-description", name: "description", maxlength: 500, autocomplete: "off" });
  const all = h("input", { type: "checkbox", id: "wh-all", checked: true });
  const boxes = types.map((type) => h("input", { type: "checkbox", value: type, disabled: true }));
  all.addEventListener("change", () => boxes.forEach((box) => { box.disabled = all.checked; }));
  const form = h("form", { class: "card add-endpoint", "aria-labelledby": "wh-add" },
    h("h2", { id: "wh-add" }, "Add an endpoint"),
    field("URL", url),
    field("Description", description),
    h("fieldset", { class: "types" }, h("legend", {}, "Events"),
      h("label", { class: "choice" }, all, " All events"),
      boxes.map((box) => h("label", { class: "choice" }, box, " ", h("code", {}, box.value)))),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Add endpoint")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
    if (!all.checked && !chosen.length) {
      notify("Choose the events to send, or All events.", "error"); // never widened silently
      return;
    }
    const body = {
      url: url.value.trim(),
      description: description.value.trim(),
      events: all.checked ? ["*"] : chosen,
    };
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const { data } = await call("POST", "/webhook-endpoints", { body });
      fresh.set(data.id, { secret: data.secret, made: "added" });
      notify(`Endpoint #${data.id} added.`);
      go(`/webhooks/${data.id}`);
    } catch (error) {
      notify(error.message, "error");
      submit.disabled = false;
    }
  });
  return form;
}

function stateBadge(endpoint) {
  const state = endpoint.enabled ? "enabled" : "disabled";
  return h("span", { class: `status ${state}`, dataset: { state } }, state);
}

function eventsText(events) {
  return events.includes("*") ? "all" : events.join(", ");
}

/* One endpoint: its facts and actions, what an action came to, its deliveries. */

async function endpointPage(main, id, query, stale) {
  const state = query.get("state") || "";
  const after = query.get("after") || "";
  const { data: endpoint } = await get(path(id));
  if (stale()) return;
  const head = h("div", { class: "endpoint-head" });
  const outcome = h("div", { id: "webhook-outcome" });
  const list = h("section", { class: "deliveries", "aria-labelledby": "deliveries-title" });
  let current = endpoint;

  function show(...panel) {
    fill(outcome, ...panel);
    outcome.firstChild?.focus();
  }

  function drawHead(focusToggle = false) {
    const toggle = h("button", { type: "button", id: "wh-toggle", onclick: () => setEnabled(!current.enabled) },
      current.enabled ? "Disable" : "Enable");
    fill(head,
      h("h1", {}, `Endpoint #${current.id} `, stateBadge(current)),
      h("dl", { class: "facts" },
        h("dt", {}, "URL"), h("dd", { id: "wh-url-shown" }, current.url),
        h("dt", {}, "Events"), h("dd", {}, eventsText(current.events)),
        h("dt", {}, "Description"), h("dd", { id: "wh-description-shown" }, current.description || h("span", { class: "muted" }, "—")),
        h("dt", {}, "Added"), h("dd", {}, when(current.createdAt)),
        current.disabledReason ? [h("dt", {}, "Disabled because"), h("dd", { class: "error" }, current.disabledReason)] : null),
      h("div", { class: "row actions", role: "group", "aria-label": "Actions" },
        h("button", { type: "button", id: "wh-ping", onclick: pingNow }, "Ping"),
        h("button", { type: "button", onclick: askRotate }, "Rotate secret…"),
        toggle,
        h("button", { type: "button", onclick: replayDialog }, "Replay…"),
        h("button", { type: "button", class: "danger", onclick: askDelete }, "Delete…")));
    if (focusToggle) toggle.focus();
  }

  async function pingNow(event) {
    const button = event.currentTarget;
    button.disabled = true;
    show(h("p", { class: "muted", tabindex: -1 }, "Pinging…"));
    try {
      const { data } = await call("POST", path(id, "/ping"));
      show(pingPanel(data));
      notify(data.error ? `The ping failed: ${data.error}` : `The ping was answered ${data.status}.`, data.error ? "error" : "info");
    } catch (error) {
      fill(outcome);
      notify(error.message, "error");
    }
    button.disabled = false;
  }

  function askRotate() {
    const box = dialog("Rotate the signing secret?",
      h("p", {}, "A new secret signs every webhook from now on. The old one co-signs them for a while "
        + "(24 hours unless the service says otherwise), so the subscriber has time to switch."),
      h("div", { class: "row" },
        h("button", { type: "button", class: "danger", onclick: async () => { box.close(); await rotate(); } }, "Rotate"),
        h("button", { type: "button", onclick: () => box.close() }, "Keep it")));
  }

  async function rotate() {
    try {
      const { data } = await call("POST", path(id, "/rotate-secret"));
      current = data;
      show(secretPanel(data.secret, "New signing secret"));
      notify("The signing secret was rotated.");
    } catch (error) {
      notify(error.message, "error");
    }
  }

  async function setEnabled(enabled) {
    try {
      const { data } = await call("PATCH", path(id), { body: { enabled } });
      current = data;
      notify(`Endpoint #${id} is ${enabled ? "enabled" : "disabled"}.`);
      drawHead(true);
      await drawDeliveries();
    } catch (error) {
      notify(error.message, "error");
    }
  }

  function replayDialog() {
    const since = h("input", { id: "wh-since", type: "datetime-local", required: true, value: localInput(new Date(Date.now() - 86_400_000)) });
    const problem = h("p", { class: "error", role: "alert" });
    const form = h("form", { method: "dialog" },
      h("p", {}, "Every event written since then, of the types this endpoint subscribes to, is sent again "
        + "(with the webhook-id it had, so the subscriber can drop what it already has)."),
      field("Since (your time)", since),
      problem,
      h("div", { class: "row" },
        h("button", { type: "submit" }, "Replay"),
        h("button", { type: "button", onclick: () => box.close() }, "Close")));
    const box = dialog(`Replay events to endpoint #${id}`, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const instant = new Date(since.value);
      if (Number.isNaN(instant.getTime())) {
        fill(problem, "Give a date and time.");
        return;
      }
      try {
        const { data } = await call("POST", path(id, "/replay"), { body: { since: instant.toISOString() } });
        box.close();
        notify(`${plural(data.count, "delivery", "deliveries")} queued.`);
        await drawDeliveries();
      } catch (error) {
        fill(problem, error.message);
        notify(error.message, "error");
      }
    });
  }

  function askDelete() {
    const box = dialog(`Delete endpoint #${id}?`,
      h("p", {}, "Its deliveries go with it and ", h("span", { class: "wrap" }, current.url), " is sent nothing more. "
        + "This cannot be undone."),
      h("div", { class: "row" },
        h("button", { type: "button", class: "danger", onclick: async () => {
          box.close();
          try {
            await call("DELETE", path(id));
            notify(`Endpoint #${id} was deleted.`);
            go("/webhooks");
          } catch (error) {
            notify(error.message, "error");
          }
        } }, "Delete"),
        h("button", { type: "button", onclick: () => box.close() }, "Keep it")));
  }

  async function drawDeliveries() {
    const filters = h("nav", { class: "states", "aria-label": "Delivery state" },
      ["", ...STATES].map((value) => h("a", {
        href: `#/webhooks/${id}${value ? `?state=${value}` : ""}`,
        "aria-current": value === state ? "true" : null,
      }, value ? value[0].toUpperCase() + value.slice(1) : "All")));
    const title = h("h2", { id: "deliveries-title" }, "Deliveries", state ? `: ${state}` : "");
    fill(list, title, filters, h("p", { class: "muted" }, "Loading…"));
    let answer;
    try {
      answer = await get(path(id, "/deliveries"), { state, limit: 20, starting_after: after });
    } catch (error) {
      fill(list, title, filters, h("p", { class: "error", role: "alert" }, error.message));
      notify(error.message, "error");
      return;
    }
    const { data, next } = answer;
    const pager = h("nav", { class: "pager", "aria-label": "Pages of deliveries" },
      after ? h("a", { href: `#/webhooks/${id}${state ? `?state=${state}` : ""}` }, "First page") : null,
      next ? h("button", { type: "button", onclick: () => go(`/webhooks/${id}`, { state, after: next }) }, "Next page") : null);
    fill(list, title, filters,
      data.length
        ? h("ol", { class: "delivery-list" }, data.map((delivery) => deliveryItem(id, delivery)))
        : h("p", { class: "empty" }, state ? `No ${state} deliveries.` : "No deliveries yet."),
      pager);
  }

  const made = fresh.get(id);
  fresh.delete(id);
  drawHead();
  if (made) fill(outcome, secretPanel(made.secret, "Signing secret"));
  fill(main, h("p", {}, h("a", { href: "#/webhooks" }, "← Webhooks")), head, outcome, list);
  outcome.firstChild?.focus();
  await drawDeliveries();
}

/** A secret as text, once: the page never shows it again. */
function secretPanel(secret, title) {
  const code = h("code", { id: "wh-secret", class: "secret" }, secret);
  return h("section", { class: "card outcome", tabindex: -1, "aria-labelledby": "wh-secret-title" },
    h("h2", { id: "wh-secret-title" }, title),
    h("p", {}, "The subscriber verifies webhook-signature with it. The console shows it here, after it is made; GET /webhook-endpoints/{id} returns it to admins."),
    h("p", {}, code),
    h("button", { type: "button", onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        notify("Copied.");
      } catch {
        const range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        notify("Selected: copy it with your keyboard.");
      }
    } }, "Copy"));
}

function pingPanel(result) {
  return h("section", { class: "card outcome", tabindex: -1, "aria-labelledby": "wh-ping-title", id: "wh-ping-result" },
    h("h2", { id: "wh-ping-title" }, "Ping ",
      h("span", { class: `status ${result.error ? "failed" : "delivered"}` }, result.error ? "failed" : "answered")),
    h("dl", { class: "facts" },
      h("dt", {}, "Answer"), h("dd", { id: "wh-ping-status" }, result.status === null ? "no answer" : String(result.status)),
      h("dt", {}, "Error"), h("dd", {}, result.error || h("span", { class: "muted" }, "none")),
      h("dt", {}, "Took"), h("dd", {}, `${result.durationMs} ms`),
      h("dt", {}, "Webhook id"), h("dd", {}, h("code", {}, result.eventId)),
      h("dt", {}, "Body answered"), h("dd", {}, answerBody(result.responseBody))));
}

function answerBody(text) {
  if (text === null || text === undefined) return h("span", { class: "muted" }, "none");
  if (text === "") return h("span", { class: "muted" }, "empty");
  return h("pre", { class: "answer" }, text);
}

/* A delivery: its state, what its last attempt got, its attempts on demand, a retry. */

function deliveryItem(endpointId, delivery) {
  const id = delivery.id;
  const badge = h("span");
  const facts = h("p", { class: "delivery-facts" });
  const attemptsBox = h("div", { class: "attempts", id: `attempts-${id}`, hidden: true });
  const toggle = h("button", { type: "button", "aria-expanded": "false", "aria-controls": attemptsBox.id,
    onclick: () => (attemptsBox.hidden ? openAttempts() : closeAttempts()) }, "Show attempts");
  const retry = h("button", { type: "button", onclick: retryNow }, "Retry");
  const item = h("li", { class: "delivery", id: `delivery-${id}`, "aria-labelledby": `delivery-${id}-title` },
    h("div", { class: "delivery-head", id: `delivery-${id}-title` },
      badge, " ", h("code", {}, delivery.eventType), " ", h("span", { class: "muted" }, `delivery #${id}, event ${delivery.eventId}`)),
    facts,
    h("div", { class: "row" }, toggle, retry),
    attemptsBox);
  let watching = false;

  function draw(now) {
    item.dataset.state = now.state;
    badge.className = `status ${now.state}`;
    badge.textContent = now.state;
    const parts = [plural(now.attempts, "attempt")];
    if (now.lastStatus !== null) parts.push(`last answer ${now.lastStatus}`);
    if (now.lastError) parts.push(`last error: ${now.lastError}`);
    if (now.deliveredAt) parts.push(`delivered ${when(now.deliveredAt)}`);
    else if (now.nextAttemptAt) parts.push(`next attempt ${when(now.nextAttemptAt)}`);
    else if (now.state === "pending") parts.push("held while the endpoint is disabled");
    fill(facts, parts.join(" · "));
  }

  async function openAttempts() {
    attemptsBox.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    toggle.textContent = "Hide attempts";
    await loadAttempts();
  }

  function closeAttempts() {
    attemptsBox.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    toggle.textContent = "Show attempts";
  }

  async function loadAttempts(startingAfter = null, rows = []) {
    if (!startingAfter) fill(attemptsBox, h("p", { class: "muted" }, "Loading attempts…"));
    try {
      const { data, next } = await get(path(endpointId, `/deliveries/${id}/attempts`), { limit: 20, starting_after: startingAfter });
      const all = [...rows, ...data];
      fill(attemptsBox,
        all.length ? attemptsTable(id, all) : h("p", { class: "muted" }, "No attempt yet."),
        next ? h("button", { type: "button", onclick: () => loadAttempts(next, all) }, "More attempts") : null);
    } catch (error) {
      fill(attemptsBox, h("p", { class: "error", role: "alert" }, error.message));
      notify(error.message, "error");
    }
  }

  async function retryNow() {
    retry.disabled = true;
    try {
      const { data } = await call("POST", path(endpointId, `/deliveries/${id}/retry`));
      draw(data);
      notify(`Delivery #${id} is queued to be sent again.`);
      watch();
    } catch (error) {
      notify(error.message, "error");
    }
    retry.disabled = false;
  }

  /** After a retry, the deliverer sends it soon: follow it until it is no longer pending. */
  async function watch() {
    if (watching) return;
    watching = true;
    const until = Date.now() + WATCH_FOR_MS;
    try {
      while (item.isConnected && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, WATCH_EVERY_MS));
        if (!item.isConnected) break;
        const now = await oneDelivery(endpointId, id);
        if (!now) break;
        draw(now);
        if (now.state !== "pending" || !now.nextAttemptAt) {
          if (!attemptsBox.hidden) await loadAttempts();
          break;
        }
      }
    } catch (error) {
      notify(error.message, "error");
    }
    watching = false;
  }

  draw(delivery);
  return item;
}

/** One delivery of the endpoint: the page of one that starts just after it. */
async function oneDelivery(endpointId, deliveryId) {
  const { data } = await get(path(endpointId, "/deliveries"), { starting_after: deliveryId + 1, limit: 1 });
  return data.find((delivery) => delivery.id === deliveryId) || null;
}

function attemptsTable(deliveryId, attempts) {
  return h("div", { class: "scroll" }, h("table", { class: "attempt-list" },
    h("caption", { class: "sr-only" }, `Attempts of delivery #${deliveryId}, newest first`),
    h("thead", {}, h("tr", {}, ["When", "Answer", "Error", "Took", "Body answered"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, attempts.map((attempt) => h("tr", { dataset: { attempt: attempt.id } },
      h("td", {}, when(attempt.at)),
      h("td", {}, h("span", { class: `status ${attempt.error ? "failed" : "delivered"}` },
        attempt.status === null ? "no answer" : String(attempt.status))),
      h("td", { class: "wrap" }, attempt.error || h("span", { class: "muted" }, "none")),
      h("td", { class: "num" }, `${attempt.durationMs} ms`),
      h("td", { class: "wrap" }, answerBody(attempt.responseBody)))))));
}

/** A Date as a datetime-local input's value, in the staff's own time zone. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

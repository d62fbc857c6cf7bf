// The leads board: the lead statuses as columns (in statusOrder), the leads as cards.
// Every change shows at once; when the service refuses it, it is put back and its message shown.
import Sortable from "../vendor/sortable.esm.js";
import { call, get } from "./api.js";
import { dialog, field, fill, h, notify } from "./dom.js";

const PAGE = 20; // cards per column, and per "More"
const KEYS = "ArrowLeft ArrowRight";
const DRAG = { animation: 150, filter: "button", preventOnFilter: false, delay: 150, delayOnTouchOnly: true };

const columns = (board) => [...board.querySelectorAll(":scope > .column")];
const nameOf = (column) => column.querySelector("h2").textContent;
const listOf = (column) => column.querySelector(".cards");
const columnOf = (card) => card.closest(".column");

/** Focus what had it before a move (the key's item, or the button pressed) if it still can. */
function refocus(focused, item) {
  (item.contains(focused) && !focused.disabled ? focused : item).focus();
}

const saving = new WeakMap(); // each board's last change sent, so the next waits for it

/** The page already shows a change: save it, or put it back and say why the service refused.
 * Changes go to the service one at a time, in the order staff made them: two quick moves of a
 * column never race, and the order saved last is the one the board shows. */
function attempt(board, request, undo, done) {
  relabel(board);
  const send = async () => {
    try {
      await request();
      if (done) notify(done);
    } catch (error) {
      undo();
      relabel(board);
      notify(error.message, "error");
    }
  };
  const sent = (saving.get(board) || Promise.resolve()).then(send);
  saving.set(board, sent);
  return sent;
}

/** Labels, counts and the arrows' enabled state, from where things are now. */
function relabel(board) {
  const all = columns(board);
  all.forEach((column, place) => {
    const name = nameOf(column);
    const count = Number(column.dataset.count);
    const leads = `${count} ${count === 1 ? "lead" : "leads"}`;
    column.setAttribute("aria-label", `Column ${name}, ${leads}, place ${place + 1} of ${all.length}`);
    fill(column.querySelector(".count"), String(count));
    listOf(column).setAttribute("aria-label", `Leads in ${name}`);
    const [left, right, rename, remove] = column.querySelectorAll(".column-tools button");
    left.disabled = place === 0;
    right.disabled = place === all.length - 1;
    left.setAttribute("aria-label", `Move column ${name} left`);
    right.setAttribute("aria-label", `Move column ${name} right`);
    rename.setAttribute("aria-label", `Rename column ${name}`);
    remove.setAttribute("aria-label", `Remove column ${name}`);
    for (const card of listOf(column).children) {
      const lead = card.querySelector(".lead-name").textContent;
      const [back, on] = card.querySelectorAll("button");
      const before = all[place - 1];
      const after = all[place + 1];
      back.disabled = !before;
      on.disabled = !after;
      back.setAttribute("aria-label", before ? `Move ${lead} to ${nameOf(before)}` : `${lead} is in the first column`);
      on.setAttribute("aria-label", after ? `Move ${lead} to ${nameOf(after)}` : `${lead} is in the last column`);
      card.setAttribute("aria-label", `${lead}, in ${name}`);
    }
  });
}

// Columns.

/** Save the columns' order as the board shows it; `before` is the order to go back to. */
function saveOrder(board, before, moved) {
  const body = columns(board).map((column, place) => ({ id: Number(column.dataset.id), statusOrder: place }));
  return attempt(board,
    () => call("PUT", "/leads/statuses/order", { body }),
    () => board.append(...before),
    moved && `Column ${nameOf(moved)} is now at place ${columns(board).indexOf(moved) + 1}.`);
}

function stepColumn(board, column, step) {
  if (!column.dataset.id) return; // still being added
  const before = columns(board);
  const place = before.indexOf(column) + step;
  if (place < 0 || place >= before.length) return;
  const focused = document.activeElement;
  if (step < 0) board.insertBefore(column, before[place]);
  else board.insertBefore(column, before[place].nextElementSibling);
  saveOrder(board, before, column);
  refocus(focused, column);
}

function renameColumn(board, column) {
  if (!column.dataset.id) return;
  const old = nameOf(column);
  const input = h("input", { id: "column-name", required: true, maxlength: 100, value: old, autocomplete: "off" });
  const form = h("form", { method: "dialog" },
    field("Name", input),
    h("div", { class: "row" },
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", onclick: () => box.close() }, "Cancel")));
  const box = dialog(`Rename column ${old}`, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    box.close();
    if (!name || name === old) return;
    fill(column.querySelector("h2"), name);
    attempt(board,
      () => call("PATCH", `/leads/statuses/${column.dataset.id}`, { body: { name } }),
      () => fill(column.querySelector("h2"), old),
      `Column ${old} is now ${name}.`);
  });
}

function removeColumn(board, column) {
  if (!column.dataset.id) return;
  const next = column.nextElementSibling;
  const neighbour = next || column.previousElementSibling;
  const name = nameOf(column);
  column.remove();
  if (neighbour) neighbour.focus(); // keyboard users stay on the board
  attempt(board,
    () => call("DELETE", `/leads/statuses/${column.dataset.id}`),
    () => board.insertBefore(column, next && next.parentNode === board ? next : null),
    `Column ${name} removed.`);
}

function columnElement(board, status) {
  const list = h("ul", { class: "cards" });
  const more = h("button", { type: "button", class: "more", hidden: true }, "More");
  const column = h("section", {
    class: "column", tabindex: 0, "aria-keyshortcuts": KEYS, "aria-describedby": "board-help",
    dataset: { id: status.id, count: status.leadCount || 0 },
    onkeydown: (event) => {
      if (event.target !== column || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
      event.preventDefault();
      stepColumn(board, column, event.key === "ArrowLeft" ? -1 : 1);
    },
  },
  h("header", { class: "column-head" },
    h("div", { class: "column-title" }, h("h2", {}, status.name), h("span", { class: "count" })),
    h("div", { class: "column-tools" },
      h("button", { type: "button", onclick: () => stepColumn(board, column, -1) }, "←"),
      h("button", { type: "button", onclick: () => stepColumn(board, column, 1) }, "→"),
      h("button", { type: "button", onclick: () => renameColumn(board, column) }, "Rename"),
      h("button", { type: "button", class: "danger", onclick: () => removeColumn(board, column) }, "Remove"))),
  list,
  more);
  Sortable.create(list, {
    ...DRAG, group: "leads", sort: false, ghostClass: "dragging",
    onEnd: (event) => {
      if (event.from !== event.to) moveCard(board, event.item, event.from, event.oldIndex);
    },
  });
  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const { data, next } = await get("/leads", { statusId: status.id, limit: PAGE, starting_after: cursor });
      for (const lead of data) {
        if (!board.querySelector(`.lead[data-id="${lead.id}"]`)) list.append(cardElement(board, lead));
      }
      cursor = next;
      more.hidden = !next;
    } catch (error) {
      notify(error.message, "error");
    }
    more.disabled = false;
    relabel(board);
  }
  more.addEventListener("click", load);
  return { column, load };
}

async function addColumn(board, input) {
  const name = input.value.trim();
  if (!name) return;
  input.value = "";
  const { column } = columnElement(board, { id: "", name, leadCount: 0 });
  column.setAttribute("aria-busy", "true");
  board.append(column);
  document.getElementById("no-columns")?.remove();
  await attempt(board,
    async () => {
      const { data } = await call("POST", "/leads/statuses", { body: { name } });
      column.dataset.id = data.id;
      column.removeAttribute("aria-busy");
    },
    () => { column.remove(); input.value = name; },
    `Column ${name} added.`);
}

// Cards.

/** Put `card` among its list's cards where a reload would: newest (highest id) first. */
function placeByAge(list, card) {
  const id = Number(card.dataset.id);
  const after = [...list.children].find((other) => other !== card && Number(other.dataset.id) < id);
  list.insertBefore(card, after || null);
}

/** The card is in its new column already; `from` and `index` are where it was. */
function moveCard(board, card, from, index) {
  const to = columnOf(card);
  const source = from.closest(".column");
  if (!to.dataset.id) {
    from.insertBefore(card, from.children[index] || null);
    notify("That column is still being saved: try again in a moment.", "error");
    return;
  }
  placeByAge(listOf(to), card);
  const count = (column, step) => { column.dataset.count = Number(column.dataset.count) + step; };
  count(source, -1);
  count(to, 1);
  const lead = card.querySelector(".lead-name").textContent;
  attempt(board,
    () => call("PATCH", `/leads/${card.dataset.id}`, { body: { statusId: Number(to.dataset.id) } }),
    () => {
      from.insertBefore(card, from.children[index] || null);
      count(source, 1);
      count(to, -1);
    },
    `${lead} moved to ${nameOf(to)}.`);
}

function stepCard(board, card, step) {
  const all = columns(board);
  const target = all[all.indexOf(columnOf(card)) + step];
  if (!target) return;
  const from = card.parentNode;
  const index = [...from.children].indexOf(card);
  const focused = document.activeElement;
  listOf(target).append(card);
  moveCard(board, card, from, index);
  refocus(focused, card);
}

function cardElement(board, lead) {
  const card = h("li", {
    class: "lead", tabindex: 0, "aria-keyshortcuts": KEYS, "aria-describedby": "board-help",
    dataset: { id: lead.id },
    onkeydown: (event) => {
      if (event.target !== card || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
      event.preventDefault();
      stepCard(board, card, event.key === "ArrowLeft" ? -1 : 1);
    },
  },
  h("strong", { class: "lead-name" }, lead.name),
  h("span", { class: "muted lead-email" }, lead.email),
  lead.phone ? h("span", { class: "muted" }, lead.phone) : null,
  lead.source ? h("span", { class: "lead-source" }, lead.source) : null,
  h("div", { class: "lead-tools" },
    h("button", { type: "button", onclick: () => stepCard(board, card, -1) }, "←"),
    h("button", { type: "button", onclick: () => stepCard(board, card, 1) }, "→")));
  return card;
}

export async function leadsPage(main) {
  fill(main, h("h1", {}, "Leads"), h("p", { class: "muted" }, "Loading…"));
  const { data: statuses } = await get("/leads/statuses", { withCounts: "true" });
  const board = h("div", { class: "board", id: "board", "aria-busy": "true" });
  const built = statuses.map((status) => columnElement(board, status));
  board.append(...built.map(({ column }) => column));
  let before = [];
  Sortable.create(board, {
    ...DRAG, draggable: ".column", handle: ".column-head", direction: "horizontal", ghostClass: "dragging",
    onStart: () => { before = columns(board); },
    onEnd: (event) => {
      if (event.oldIndex !== event.newIndex) saveOrder(board, before);
    },
  });
  const input = h("input", { id: "new-column", name: "name", required: true, maxlength: 100, autocomplete: "off" });
  fill(main,
    h("h1", {}, "Leads"),
    h("p", { class: "muted", id: "board-help" },
      "Drag a column by its title and a card to another column. ",
      "By keyboard: Tab to a column or a card, then ← or → moves it."),
    h("form", { class: "row", "aria-label": "Add a column", onsubmit: (event) => {
      event.preventDefault();
      addColumn(board, input);
    } },
      h("label", { for: "new-column" }, "New column"), input,
      h("button", { type: "submit" }, "Add column")),
    statuses.length ? null : h("p", { class: "empty", id: "no-columns" }, "No columns yet: add the first one."),
    board);
  await Promise.all(built.map(({ load }) => load()));
  board.removeAttribute("aria-busy"); // every column's first page is in
}

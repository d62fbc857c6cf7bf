// Building the page: every value goes in as text (textContent, setAttribute), never as HTML.

/** h("a", {href: "#/x", class: "c", onclick: fn}, "text", child) -> an element. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name in node && typeof value !== "string") {
      node[name] = value; // value, checked, disabled…
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Put `children` in place of what `node` holds. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function money(cents, currency = "usd") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A short message for staff in the notice area (role=status, read out by screen readers). */
export function notify(message, kind = "info") {
  const notice = document.getElementById("notice");
  const item = h("p", { class: `notice ${kind}` }, message);
  notice.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 12000 : 5000);
}

/** A field: its label, then the control, as one element. */
export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

/** A modal dialog holding `body`; resolves when it closes. */
export function dialog(title, ...body) {
  const box = h("dialog", { "aria-label": title }, h("h2", {}, title), ...body);
  document.body.append(box);
  box.addEventListener("close", () => box.remove());
  box.showModal();
  return box;
}

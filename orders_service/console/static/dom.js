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

/** How many decimals the currency's amounts have: the API counts in its smallest unit, so a
 * yen amount is whole yen and a dollar amount is cents. */
export function decimals(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** An amount in the currency's smallest unit (the API's *InCents), as staff read it. */
export function money(minor, currency = "usd") {
  const major = minor / 10 ** decimals(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(major);
  } catch {
    return `${major.toFixed(decimals(currency))} ${currency}`;
  }
}

/** What staff typed ("12.5") in the currency's smallest unit (1250), or null if it is not an
 * amount of that currency (more decimals than it has, exponents, signs, words). */
export function minorUnits(typed, currency) {
  const places = decimals(currency);
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(typed.trim());
  if (!match || (match[2] || "").length > places) return null;
  return Number(match[1]) * 10 ** places + Number((match[2] || "").padEnd(places, "0") || 0);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A link to another site (a carrier's tracking page), opened in a new tab that gets neither
 * this page's window nor its address. Only an http(s) address becomes a link: anything else
 * (javascript:, data:) is shown as text, whoever wrote it. */
export function outsideLink(address, text) {
  let parsed;
  try {
    parsed = new URL(address);
  } catch {
    return address;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return address;
  return h("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank" }, text);
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

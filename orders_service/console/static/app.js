// The console's shell: sign-in, the staff check, and the router (each page its own address).
import { ApiError, get, token, whenUnauthorized } from "./api.js";
import { fill, h } from "./dom.js";
import { leadsPage } from "./leads.js";
import { orderPage } from "./order.js";
import { ordersPage } from "./orders.js";
import { route } from "./router.js";
import { webhooksPage } from "./webhooks.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let rendering = 0; // the number of the newest render (or sign-in): an older one gives way

// #/orders?status=paid, #/orders/42, #/leads, #/webhooks, #/webhooks/3.
// Each page draws into its own view (see render): the page's element, gone when staff go on.
const ROUTES = [
  [/^\/orders\/(\d+)$/, (view, match) => orderPage(view, Number(match[1]))],
  [/^\/orders$/, (view, match, query) => ordersPage(view, query)],
  [/^\/leads$/, (view) => leadsPage(view)],
  [/^\/webhooks(?:\/(\d+))?$/, (view, match, query) => webhooksPage(view, match[1] && Number(match[1]), query)],
];

function signIn(message) {
  rendering += 1; // a page still on its way gives way to the sign-in form
  main.removeAttribute("aria-busy");
  nav.hidden = true;
  const input = h("textarea", {
    id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const form = h(
    "form", { class: "card narrow", onsubmit: (event) => {
      event.preventDefault();
      token.set(input.value);
      render();
    } },
    h("h1", {}, "Sign in"),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
    h("label", { for: "token" }, "Staff token"),
    input,
    h("p", { id: "token-help", class: "muted" },
      "A bearer token with the admin role. `make run` prints a link that signs you in."),
    h("button", { type: "submit" }, "Sign in"),
  );
  fill(main, form);
  input.focus();
}

function staffOnly() {
  rendering += 1;
  main.removeAttribute("aria-busy");
  nav.hidden = true;
  fill(main, h("section", { class: "card narrow", role: "alert" },
    h("h1", {}, "Staff only"),
    h("p", {}, "This token is valid, but it does not carry the admin role the console needs."),
    h("button", { type: "button", onclick: () => { token.clear(); signIn(); } }, "Use another token"),
  ));
}

let checked = null; // the token the staff check passed for

/** Admins only may list webhook endpoints: the service says whether this token is staff. */
async function isStaff() {
  if (checked === token.get()) return true;
  try {
    await get("/webhook-endpoints", { limit: 1 });
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return false;
    throw error;
  }
  checked = token.get();
  return true;
}

async function render() {
  const mine = ++rendering;
  const pasted = location.hash.match(/^#token=([^&]+)/);
  if (pasted) {
    history.replaceState(null, "", `${location.pathname}${location.search}#/orders`);
    try {
      token.set(decodeURIComponent(pasted[1]));
    } catch {
      return signIn("The link's token is not readable: paste the token instead.");
    }
  }
  if (!token.get()) return signIn();
  try {
    if (!(await isStaff())) return staffOnly();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // signed out already
    fill(main, h("p", { class: "error", role: "alert" }, `The service cannot be reached: ${error.message}`));
    return;
  }
  if (mine !== rendering) return; // staff went elsewhere while the check ran
  nav.hidden = false;
  const { path, query } = route();
  for (const link of nav.querySelectorAll("a")) {
    const current = path.startsWith(`/${link.dataset.page}`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [pattern, page] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      // A fresh view per address: a page still loading when staff go on draws into its own
      // view, no longer on screen, and never over the page they went to.
      const view = h("div", { class: "view" });
      main.replaceChildren(view);
      main.setAttribute("aria-busy", "true"); // until the page's first answer is drawn
      try {
        await page(view, match, query);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) {
          fill(view, h("p", { class: "error", role: "alert" }, error.message));
        }
      } finally {
        if (mine === rendering) main.removeAttribute("aria-busy");
      }
      return;
    }
  }
  fill(main, h("p", { class: "error", role: "alert" }, "No such page."), h("a", { href: "#/orders" }, "Orders"));
}

whenUnauthorized(() => {
  token.clear();
  checked = null;
  signIn("Your token was refused (expired or not valid): sign in again.");
});
document.getElementById("sign-out").addEventListener("click", () => {
  token.clear();
  checked = null;
  signIn();
});
window.addEventListener("hashchange", render);
render();

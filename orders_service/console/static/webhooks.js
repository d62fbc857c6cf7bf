// Webhook endpoints (being built).
import { fill, h } from "./dom.js";

export async function webhooksPage(main) {
  fill(main, h("h1", {}, "Webhooks"));
}

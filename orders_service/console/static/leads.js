// The leads board (being built).
import { fill, h } from "./dom.js";

export async function leadsPage(main) {
  fill(main, h("h1", {}, "Leads"));
}

// A storefront's day one against orders-service, typed by the service's own /openapi.json:
// browse the catalog page by page (the Link header), order with an Idempotency-Key, read the
// order back, and handle a 409 and a 401 through the typed error body. No cast, no `!`.
//
//   npm run generate            # src/generated/api.d.ts from http://127.0.0.1:8000/openapi.json
//   npm run build && BASE_URL=http://127.0.0.1:8000 TOKEN=<a customer's JWT> npm start

import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

type Product = components["schemas"]["Product"];
type Order = components["schemas"]["Order"];
type ApiError = components["schemas"]["Error"];

const baseUrl = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const token = process.env.TOKEN ?? "";

const anonymous = createClient<paths>({ baseUrl });
const customer = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

function report(step: string, detail: unknown): void {
  console.log(JSON.stringify({ step, detail }));
}

function fail(step: string, error: ApiError | string): never {
  const why = typeof error === "string" ? error : `${error.code} ${error.status}: ${error.message}`;
  throw new Error(`${step}: ${why}`);
}

/** The next page's cursor from a Link header (`<…?starting_after=ID&limit=N>; rel="next"`). */
function nextCursor(link: string | null): number | undefined {
  const next = link?.match(/<([^>]*)>\s*;\s*rel="next"/);
  const target = next?.[1];
  if (target === undefined) return undefined;
  const cursor = new URL(target, baseUrl).searchParams.get("starting_after");
  return cursor === null ? undefined : Number(cursor);
}

/** Every active product, `limit` at a time, following each page's Link. */
async function browse(limit: number): Promise<{ products: Product[]; pages: number }> {
  const products: Product[] = [];
  let cursor: number | undefined;
  let pages = 0;
  do {
    const query = cursor === undefined ? { limit } : { limit, starting_after: cursor };
    const { data, error, response } = await anonymous.GET("/products", { params: { query } });
    if (error) fail("browse", error);
    products.push(...data);
    pages += 1;
    cursor = nextCursor(response.headers.get("Link"));
  } while (cursor !== undefined);
  return { products, pages };
}

function total(order: Order): number {
  return order.products.reduce((sum, line) => sum + line.priceInCents * line.quantity, 0);
}

async function main(): Promise<void> {
  const { products, pages } = await browse(2);
  const forSale = products.filter((p) => p.active && (p.stock === null || p.stock > 0));
  report("browse", { products: products.length, pages });
  const [first, second] = forSale;
  if (first === undefined || second === undefined) fail("browse", "fewer than two products");

  const cart = [String(first.id), { id: second.id, quantity: 2 }];
  const key = randomUUID();
  const created = await customer.POST("/orders/new", {
    body: cart,
    params: { header: { "Idempotency-Key": key } },
  });
  if (created.error) fail("create", created.error);
  const order = created.data;
  const location = created.response.headers.get("Location");
  if (order.amountInCents !== total(order)) fail("create", "the total is not the lines' sum");
  report("create", {
    id: order.id,
    status: order.status,
    amountInCents: order.amountInCents,
    clientSecret: order.clientSecret.length > 0,
    nextStatuses: order.nextStatuses,
    location,
  });

  // The same key and body again: the first answer, said to be a replay.
  const again = await customer.POST("/orders/new", {
    body: cart,
    params: { header: { "Idempotency-Key": key } },
  });
  if (again.error) fail("replay", again.error);
  report("replay", {
    sameOrder: again.data.id === order.id,
    replayed: again.response.headers.get("Idempotent-Replayed"),
  });

  const read = await customer.GET("/orders/{order_id}", {
    params: { path: { order_id: order.id } },
  });
  if (read.error) fail("read", read.error);
  report("read", { id: read.data.id, lines: read.data.products.map((line) => line.name) });

  // A second order, so that a page of one has a next page.
  const another = await customer.POST("/orders/new", { body: [first.id] });
  if (another.error) fail("create another", another.error);
  const seen: number[] = [];
  let cursor: number | undefined;
  do {
    const query = cursor === undefined ? { limit: 1 } : { limit: 1, starting_after: cursor };
    const page = await customer.GET("/orders", { params: { query } });
    if (page.error) fail("list", page.error);
    seen.push(...page.data.map((o) => o.id));
    cursor = nextCursor(page.response.headers.get("Link"));
  } while (cursor !== undefined);
  report("list", { orders: seen });

  // The same key with another body: a 409 in the error shape, read as typed.
  const conflict = await customer.POST("/orders/new", {
    body: [second.id],
    params: { header: { "Idempotency-Key": key } },
  });
  if (conflict.error === undefined) fail("conflict", "a reused key was accepted");
  report("conflict", {
    status: conflict.response.status,
    code: conflict.error.code,
    message: conflict.error.message,
  });

  // The customer cancels the second order while it is pending (a move nextStatuses offers).
  if (another.data.nextStatuses.includes("canceled")) {
    const canceled = await customer.POST("/orders/status-update", {
      body: { orderId: another.data.id, status: "Canceled" },
    });
    if (canceled.error) fail("cancel", canceled.error);
    const history = await customer.GET("/orders/{order_id}/history", {
      params: { path: { order_id: another.data.id } },
    });
    if (history.error) fail("history", history.error);
    report("cancel", { status: canceled.data.status, history: history.data.map((h) => h.to) });
  }

  // A token the service does not accept: a 401 in the same typed shape.
  const stranger = createClient<paths>({ baseUrl, headers: { Authorization: "Bearer not-a-jwt" } });
  const refused = await stranger.GET("/orders", {});
  if (refused.error === undefined) fail("unauthorized", "a bad token was accepted");
  report("unauthorized", {
    status: refused.response.status,
    code: refused.error.code,
    message: refused.error.message,
    challenge: refused.response.headers.get("WWW-Authenticate"),
  });
  report("done", "ok");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

import type { InboxQueue } from '@ballast/core/inbox';
import {
  migrate,
  type SqlClient,
  type SqlExecutor,
  sqlInbox,
  sqlNames,
  sqlVersionStore,
} from '@ballast/core/stores/sql';
import {
  type ReconcileResult,
  reconcileStripeEvents,
  type StripeCheckoutSession,
  type StripeClient,
  stripeWebhooks,
} from '@ballast/stripe';

/**
 * A shop that sells through Stripe Checkout and fulfils each paid order
 * exactly once: `POST /orders` opens a Checkout Session, Stripe's
 * `checkout.session.completed` webhook (verified, stored in the inbox,
 * deduplicated, processed off the request path) fulfils the order, and
 * `reconcile()` recovers events whose webhooks never arrived.
 *
 * The app takes everything it needs as arguments: the example's entry
 * (`main.ts`) reads the environment, never this file.
 */
export interface CheckoutAppOptions {
  /** PGlite or Postgres. */
  db: SqlClient;
  /** The Stripe API client (`stripeClient(...)`). */
  stripe: StripeClient;
  /** The webhook endpoint's signing secret (`whsec_…`). */
  webhookSecret: string;
  /** Where stored events go to the worker. @default an in-process queue */
  queue?: InboxQueue;
  /** Worker tuning, for tests and demos (faster retries). */
  worker?: { retryDelayMs?: number; sweepIntervalMs?: number; concurrency?: number };
  /** Called with background errors (store outages, failed handler runs). */
  onError?: (error: unknown) => void;
  /** Schema of Ballast's tables. @default 'ballast' */
  schema?: string;
  /** Schema of the shop's own tables. @default 'shop' */
  shopSchema?: string;
}

/** One order as the app reports it. */
export interface Order {
  id: string;
  amount: number;
  status: 'pending' | 'fulfilled';
  sessionId: string | null;
  fulfilments: number;
}

/** The running app. */
export interface CheckoutApp {
  /** The HTTP routes, Web-standard: `POST /orders`, `GET /orders/:id`, `POST /webhooks/stripe`. */
  fetch(request: Request): Promise<Response>;
  /** Ingests events of the last `seconds` that Stripe could not deliver (run on a schedule and after outages). */
  reconcile(sinceSeconds: number): Promise<ReconcileResult>;
  /** Processes every stored event that is due now. */
  drain(): Promise<void>;
  /** Inbox counts by status. */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

const shopTables = (shop: string) => `
CREATE SCHEMA IF NOT EXISTS ${shop};
CREATE TABLE IF NOT EXISTS ${shop}.orders (
  id text PRIMARY KEY,
  amount integer NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  session_id text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${shop}.fulfilments (
  order_id text NOT NULL,
  session_id text NOT NULL,
  event_id text NOT NULL,
  fulfilled_at timestamptz NOT NULL DEFAULT now()
);
`;

const json = (status: number, body: unknown) => Response.json(body, { status });

/**
 * Fulfils an order inside the handler's transaction. The inbox already runs
 * each event once; the status check also keeps a second event about the same
 * session (`async_payment_succeeded` after `completed`) from shipping twice.
 */
async function fulfil(shop: string, tx: SqlExecutor, session: StripeCheckoutSession, eventId: string): Promise<void> {
  const orderId = session.client_reference_id;
  if (!orderId || session.payment_status !== 'paid') return;
  const updated = await tx.query(
    `UPDATE ${shop}.orders SET status = 'fulfilled' WHERE id = $1 AND status <> 'fulfilled' RETURNING id`,
    [orderId],
  );
  if (updated.rowCount === 0) return;
  await tx.query(`INSERT INTO ${shop}.fulfilments (order_id, session_id, event_id) VALUES ($1, $2, $3)`, [
    orderId,
    session.id,
    eventId,
  ]);
}

/** Creates the shop: migrates its tables and Ballast's, and starts the webhook worker. */
export async function createCheckoutApp(options: CheckoutAppOptions): Promise<CheckoutApp> {
  const { db, stripe } = options;
  const schema = options.schema ?? 'ballast';
  const shop = sqlNames(options.shopSchema ?? 'shop').quotedSchema;
  await migrate(db, { schema });
  await db.exec(shopTables(shop));
  const inbox = sqlInbox(db, { schema });
  const retryDelayMs = options.worker?.retryDelayMs ?? 1000;
  const webhook = stripeWebhooks({
    secret: options.webhookSecret,
    inbox,
    versions: sqlVersionStore(db, { schema }),
    ...(options.queue ? { queue: options.queue } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    worker: {
      concurrency: options.worker?.concurrency ?? 4,
      sweepIntervalMs: options.worker?.sweepIntervalMs ?? 1000,
      idempotency: { transactional: true },
      retry: { maxAttempts: 50, initialDelayMs: retryDelayMs, maxDelayMs: retryDelayMs * 20 },
      ...(options.onError ? { onError: options.onError } : {}),
    },
    on: {
      'checkout.session.completed': (event, context) =>
        fulfil(shop, context.tx as SqlExecutor, event.data.object, event.id),
      'checkout.session.async_payment_succeeded': (event, context) =>
        fulfil(shop, context.tx as SqlExecutor, event.data.object, event.id),
    },
  });

  async function createOrder(request: Request): Promise<Response> {
    let body: { amount?: unknown; email?: unknown };
    try {
      body = (await request.json()) as typeof body;
    } catch {
      return json(400, { error: 'invalid_json' });
    }
    const amount = body.amount;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 50 || amount > 99_999_999)
      return json(400, { error: 'invalid_amount', message: 'amount must be an integer number of cents, at least 50' });
    const email = typeof body.email === 'string' ? body.email : undefined;
    const orderId = `ord_${crypto.randomUUID()}`;
    await db.query(`INSERT INTO ${shop}.orders (id, amount) VALUES ($1, $2)`, [orderId, amount]);
    const session = await stripe.post<{ id: string; url: string | null }>(
      '/v1/checkout/sessions',
      {
        mode: 'payment',
        client_reference_id: orderId,
        metadata: { order_id: orderId },
        success_url: 'https://shop.example/thanks',
        ...(email ? { customer_email: email } : {}),
        line_items: [
          {
            quantity: 1,
            price_data: { currency: 'eur', unit_amount: amount, product_data: { name: `Order ${orderId}` } },
          },
        ],
      },
      // One session per order, however often this call is retried.
      { idempotencyKey: `checkout-${orderId}` },
    );
    await db.query(`UPDATE ${shop}.orders SET session_id = $2 WHERE id = $1`, [orderId, session.id]);
    return json(201, { orderId, sessionId: session.id, url: session.url });
  }

  async function getOrder(id: string): Promise<Response> {
    const rows = await db.query<{
      id: string;
      amount: number;
      status: Order['status'];
      session_id: string | null;
      n: number;
    }>(
      `SELECT o.id, o.amount, o.status, o.session_id, (SELECT count(*)::int FROM ${shop}.fulfilments f WHERE f.order_id = o.id) AS n
         FROM ${shop}.orders o WHERE o.id = $1`,
      [id],
    );
    const row = rows.rows[0];
    if (!row) return json(404, { error: 'not_found' });
    const order: Order = {
      id: row.id,
      amount: row.amount,
      status: row.status,
      sessionId: row.session_id,
      fulfilments: row.n,
    };
    return json(200, order);
  }

  return {
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === '/webhooks/stripe') return webhook(request);
      if (url.pathname === '/orders' && request.method === 'POST') return createOrder(request);
      const match = /^\/orders\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (match?.[1] && request.method === 'GET') return getOrder(match[1]);
      return json(404, { error: 'not_found' });
    },
    reconcile: (sinceSeconds) =>
      reconcileStripeEvents({
        client: stripe,
        inbox,
        since: Math.floor(Date.now() / 1000) - sinceSeconds,
        deliverySuccess: false,
      }),
    drain: async () => {
      await webhook.worker?.drain();
    },
    counts: async () => ({ ...(await inbox.counts()) }),
    async close() {
      await webhook.close();
      await inbox.close();
    },
  };
}

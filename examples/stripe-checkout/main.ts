/**
 * The example's entry: reads the environment (the library never does), opens
 * the database, and serves the shop on node:http.
 *
 *   node --conditions=@ballast/source --import tsx stripe-checkout/main.ts
 *
 * Environment (all optional):
 *   DATABASE_URL            Postgres; without it, an in-memory PGlite
 *   STRIPE_SECRET_KEY       sk_test_… / sk_live_…; without it, a local fake Stripe
 *   STRIPE_WEBHOOK_SECRET   whsec_… of the endpoint (required with STRIPE_SECRET_KEY)
 *   STRIPE_API_VERSION      default 2026-10-28.endive
 *   PORT                    default 3000
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { secret } from '@ballast/core/vault';
import { stripeClient } from '@ballast/stripe';
import { createFakeStripe, createWebhookSender } from '@ballast/stripe/testing';
import { createCheckoutApp } from './app';

const env = process.env;
const port = Number(env.PORT ?? 3000);
const apiVersion = env.STRIPE_API_VERSION ?? '2026-10-28.endive';

const db: SqlClient = env.DATABASE_URL ? await createPostgres(env.DATABASE_URL) : await createPGlite();

let stripe: ReturnType<typeof stripeClient>;
let webhookSecret: string;
let stopFake: (() => Promise<void>) | undefined;
let completeSession: ((id: string) => void) | undefined;

if (env.STRIPE_SECRET_KEY) {
  if (!env.STRIPE_WEBHOOK_SECRET) throw new Error('STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY');
  stripe = stripeClient({ apiKey: secret(env.STRIPE_SECRET_KEY), apiVersion });
  webhookSecret = env.STRIPE_WEBHOOK_SECRET;
} else {
  // Offline: a local fake Stripe, and a sender that delivers its events to this server.
  const fake = createFakeStripe();
  const server = await fake.listen();
  webhookSecret = 'whsec_local_example';
  stripe = stripeClient({ apiKey: 'sk_test_local', apiVersion, baseUrl: server.url });
  const sender = createWebhookSender(fake, {
    target: `http://127.0.0.1:${port}/webhooks/stripe`,
    secret: webhookSecret,
  });
  const timer = setInterval(() => void sender.flush(), 500);
  completeSession = (id) => fake.completeCheckoutSession(id);
  stopFake = async () => {
    clearInterval(timer);
    await server.close();
  };
  console.log(`fake Stripe on ${server.url}; complete a session with POST /dev/complete/<session id>`);
}

const app = await createCheckoutApp({ db, stripe, webhookSecret, onError: (e) => console.error('[shop]', e) });

async function toRequest(req: IncomingMessage): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
  const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
  return new Request(`http://localhost${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    ...(body ? { body } : {}),
  });
}

async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = await toRequest(req);
  const dev = /^\/dev\/complete\/([A-Za-z0-9_]+)$/.exec(new URL(request.url).pathname);
  let response: Response;
  if (dev?.[1] && completeSession) {
    completeSession(dev[1]);
    response = Response.json({ completed: dev[1] });
  } else {
    response = await app.fetch(request);
  }
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = createServer((req, res) => {
  respond(req, res).catch((error: unknown) => {
    console.error('[shop]', error);
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal_error"}');
  });
});
server.listen(port, '127.0.0.1', () => console.log(`shop on http://127.0.0.1:${port}`));

// Catch-up: every 10 minutes, ingest what Stripe could not deliver in the last 3 days.
const reconcile = setInterval(() => {
  app.reconcile(3 * 86_400).then(
    (r) => r.stored > 0 && console.log(`[shop] reconcile recovered ${r.stored} events`),
    (e: unknown) => console.error('[shop] reconcile failed', e),
  );
}, 600_000);

async function shutdown(): Promise<void> {
  clearInterval(reconcile);
  server.close();
  await app.close();
  await stopFake?.();
  await db.close();
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());

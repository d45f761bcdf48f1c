import type { SqlClient, SqlExecutor } from '@ballast/core/stores/sql';
import { isStripeError, stripeClient } from '@ballast/stripe';
import { createFakeStripe, createWebhookSender, stripeSignatureHeader } from '@ballast/stripe/testing';
import { createCheckoutApp } from '../../stripe-checkout/app';
import type { Scenario } from '../run';

/**
 * Stripe: a shop (examples/stripe-checkout) against a local fake Stripe that
 * misbehaves: lock timeouts, 500s and reset connections on the API; webhooks
 * duplicated, reordered and dropped; the shop's database unreachable for a
 * stretch of the deliveries. Every paid order must be fulfilled exactly once.
 */

const ORDERS = 40;
const SECRET = 'whsec_demo_stripe';

/** The database as the shop sees it: every call fails while `down` is set. */
function flaky(db: SqlClient) {
  const state = { down: false, refused: 0 };
  const guard = () => {
    if (state.down) {
      state.refused++;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }
  };
  const wrap = (executor: SqlExecutor): SqlExecutor => ({
    query: async (text, params) => {
      guard();
      return executor.query(text, params);
    },
  });
  const client: SqlClient = {
    ...wrap(db),
    transaction: async (fn) => {
      guard();
      return db.transaction((tx) => fn(wrap(tx)));
    },
    exec: async (script) => {
      guard();
      return db.exec(script);
    },
    close: async () => {}, // the demo runner owns the database
  };
  return { client, state };
}

const scenario: Scenario = {
  title: 'Stripe: checkout fulfilled exactly once against a misbehaving Stripe',
  async run(report, context) {
    const t0 = performance.now();
    const { client: db, state } = flaky(await context.db());
    const fake = createFakeStripe({ seed: 70 });
    const server = await fake.listen();
    const retries: number[] = [];
    const stripe = stripeClient({
      apiKey: 'sk_test_demo',
      apiVersion: '2026-10-28.endive',
      baseUrl: server.url,
      baseDelayMs: 20,
      maxDelayMs: 200,
      attempts: 4,
      // The demo injects failures into a burst of 40 calls: more retries than the default budget expects.
      retryBudget: { ratio: 0.5, maxTokens: 20 },
      onEvent: (e) => e.type === 'retry' && retries.push(e.status ?? 0),
    });
    const app = await createCheckoutApp({
      db,
      schema: 'demo_stripe', // the inbox scenario's events are in the default schema
      stripe,
      webhookSecret: SECRET,
      worker: { retryDelayMs: 10, sweepIntervalMs: 25 },
      onError: () => {},
    });
    const phase = (label: string, from: number) =>
      report.line(`${label}: ${((performance.now() - from) / 1000).toFixed(1)} s`);
    phase('PGlite, migrations and the shop started', t0);
    try {
      report.line(`fake Stripe on ${server.url} (test mode: 25 requests/s, the client's limiter keeps under it)`);

      // The endpoint is registered with Stripe before any order: it receives every event.
      const sender = createWebhookSender(fake, {
        target: async (request) => {
          deliveries++;
          state.down = deliveries >= 80 && deliveries < 160;
          return app.fetch(request);
        },
        secret: SECRET,
        chaos: { duplicate: 0.3, reorder: 0.3, drop: 0.1 },
        seed: 70,
        maxAttempts: 2,
        retryDelayMs: 5,
      });
      let deliveries = 0;

      // 1. The API misbehaves while orders open their Checkout Sessions.
      fake.fail({ kind: 'lock_timeout' }, { path: '/v1/checkout/sessions', times: 3 });
      fake.fail({ kind: 'status', status: 500 }, { path: '/v1/checkout/sessions', times: 2 });
      fake.fail({ kind: 'connection' }, { path: '/v1/checkout/sessions', times: 2 });
      const started = performance.now();
      const orders = await Promise.all(
        Array.from({ length: ORDERS }, async (_, i) => {
          const response = await app.fetch(
            new Request('http://shop/orders', { method: 'POST', body: JSON.stringify({ amount: 500 + i }) }),
          );
          return (await response.json()) as { orderId: string; sessionId: string };
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const sessionPosts = fake.requests.filter((r) => r.path === '/v1/checkout/sessions' && r.method === 'POST');
      const rateLimited = fake.requests.filter((r) => r.status === 429).length - 3;
      const sessions = new Set(orders.map((o) => o.sessionId));
      report.table([
        { what: 'orders opened', value: ORDERS },
        { what: 'session POSTs (retries included)', value: sessionPosts.length },
        { what: 'retries (lock_timeout, 500, reset)', value: retries.length },
        { what: 'distinct Idempotency-Keys', value: new Set(sessionPosts.map((r) => r.idempotencyKey)).size },
        { what: '429 rate_limit answers (retried)', value: rateLimited },
        { what: 'seconds (25/s budget)', value: seconds.toFixed(1) },
      ]);
      if (sessions.size === ORDERS && !sessions.has(undefined as unknown as string))
        report.ok(`${ORDERS} orders, ${ORDERS} sessions: retried POSTs reused their Idempotency-Key, none doubled`);
      else report.fail(`expected ${ORDERS} distinct sessions, got ${sessions.size}`);
      report.line(
        `paced at 25/s: ${rateLimited} of ${fake.requests.length} requests met Stripe's limiter anyway (arrival jitter) and were retried`,
      );

      // 2. Customers pay; Stripe's webhooks arrive duplicated, reordered, dropped, while the database goes away.
      for (const order of orders) fake.completeCheckoutSession(order.sessionId);
      const since = Math.floor(Date.now() / 1000) - 60;
      const flushStarted = performance.now();
      const delivery = await sender.flush();
      phase('webhooks delivered', flushStarted);
      state.down = false;
      const unavailable = sender.attempts.filter((a) => a.status === 503).length;
      report.table([
        { what: 'events', value: delivery.events },
        { what: 'deliveries (duplicates and retries)', value: delivery.attempts },
        { what: 'duplicated', value: delivery.duplicated },
        { what: 'reordered', value: delivery.reordered },
        { what: 'dropped (never sent)', value: delivery.dropped.length },
        { what: '503 while the store was down', value: unavailable },
        { what: 'gave up after retries', value: delivery.failed.length },
      ]);
      if (unavailable > 0 && state.refused > 0)
        report.ok(`store outage answered 503 (${unavailable}x), never 200 for an event it could not store`);
      else report.fail('the outage did not show: no 503 answered');

      // 3. Catch-up from /v1/events, then let the worker finish.
      const catchUp = performance.now();
      const recovered = await app.reconcile(Math.floor(Date.now() / 1000) - since);
      report.line(`reconcile: ${recovered.listed} undelivered events listed, ${recovered.stored} stored`);
      for (let i = 0; i < 400; i++) {
        await app.drain();
        const counts = await app.counts();
        if (counts.processed === counts.total) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      phase('reconciled and processed', catchUp);
      const counts = await app.counts();
      if (counts.processed === fake.events().length && counts.dead === 0)
        report.ok(`every one of ${fake.events().length} events stored once and processed (0 dead)`);
      else report.fail(`inbox: ${JSON.stringify(counts)}, ${fake.events().length} events at Stripe`);

      let fulfilledOnce = 0;
      for (const order of orders) {
        const state = (await (await app.fetch(new Request(`http://shop/orders/${order.orderId}`))).json()) as {
          status: string;
          fulfilments: number;
        };
        if (state.status === 'fulfilled' && state.fulfilments === 1) fulfilledOnce++;
      }
      if (fulfilledOnce === ORDERS) report.ok(`${ORDERS}/${ORDERS} orders fulfilled exactly once`);
      else report.fail(`${fulfilledOnce}/${ORDERS} orders fulfilled exactly once`);

      // 4. What the endpoint refuses.
      const forged = await app.fetch(
        new Request('http://shop/webhooks/stripe', {
          method: 'POST',
          headers: { 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` },
          body: '{}',
        }),
      );
      const thinBody = JSON.stringify({
        id: 'evt_thin',
        object: 'v2.core.event',
        type: 'v1.billing.meter.no_meter_found',
      });
      const thin = await app.fetch(
        new Request('http://shop/webhooks/stripe', {
          method: 'POST',
          headers: {
            'stripe-signature': await stripeSignatureHeader({
              payload: thinBody,
              secret: SECRET,
              timestamp: Date.now() / 1000,
            }),
          },
          body: thinBody,
        }),
      );
      const thinCode = ((await thin.json()) as { error?: string }).error;
      if (forged.status === 401 && thin.status === 400 && thinCode === 'thin_event')
        report.ok('a forged signature gets 401; a thin v2.core.event gets 400 thin_event');
      else report.fail(`forged → ${forged.status}, thin → ${thin.status} ${thinCode}`);

      // 5. Errors come back typed.
      try {
        await stripe.get('/v1/customers/cus_missing');
        report.fail('a missing customer did not throw');
      } catch (error) {
        if (isStripeError(error) && error.stripeCode === 'resource_missing' && error.requestId)
          report.ok(`typed error: ${error.name} (${error.code}, ${error.stripeCode}, ${error.requestId})`);
        else report.fail(`untyped error: ${String(error)}`);
      }
    } finally {
      await app.close();
      await server.close();
    }
  },
};

export default scenario;

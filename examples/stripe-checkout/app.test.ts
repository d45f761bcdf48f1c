import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { stripeClient } from '@ballast/stripe';
import { createFakeStripe, createWebhookSender } from '@ballast/stripe/testing';
import { describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';
import { createCheckoutApp, type Order } from './app';

const SECRET = 'whsec_example_test';

async function scenario(db: SqlClient, schemas: { schema?: string; shopSchema?: string } = {}) {
  const fake = createFakeStripe({ rateLimit: false });
  const stripe = stripeClient({
    apiKey: 'sk_test_shop',
    apiVersion: '2026-10-28.endive',
    fetch: fake.fetch,
    limiter: false,
  });
  const app = await createCheckoutApp({
    db,
    stripe,
    webhookSecret: SECRET,
    worker: { retryDelayMs: 5, sweepIntervalMs: 20 },
    ...schemas,
  });
  const post = (path: string, body: unknown) =>
    app.fetch(new Request(`http://shop${path}`, { method: 'POST', body: JSON.stringify(body) }));
  const getOrder = async (id: string) =>
    (await (await app.fetch(new Request(`http://shop/orders/${id}`))).json()) as Order;
  try {
    const orders: Array<{ orderId: string; sessionId: string }> = [];
    for (let i = 0; i < 20; i++) {
      const response = await post('/orders', { amount: 1000 + i });
      expect(response.status).toBe(201);
      orders.push((await response.json()) as { orderId: string; sessionId: string });
    }
    expect((await getOrder(orders[0]?.orderId as string)).status).toBe('pending');
    const sender = createWebhookSender(fake, {
      target: (request) => app.fetch(request),
      secret: SECRET,
      chaos: { duplicate: 0.5, reorder: 0.5, drop: 0.2 },
      seed: 3,
    });
    for (const order of orders) fake.completeCheckoutSession(order.sessionId);
    const report = await sender.flush();
    expect(report.dropped.length).toBeGreaterThan(0);
    const recovered = await app.reconcile(3600);
    expect(recovered.stored).toBe(report.dropped.length);
    for (let i = 0; i < 200; i++) {
      await app.drain();
      const counts = await app.counts();
      if (counts.processed === counts.total) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const order of orders) {
      const state = await getOrder(order.orderId);
      expect(state).toMatchObject({ status: 'fulfilled', fulfilments: 1, sessionId: order.sessionId });
    }

    expect((await post('/orders', { amount: 10 })).status).toBe(400);
    expect((await post('/orders', 'nope')).status).toBe(400);
    const forged = await app.fetch(new Request('http://shop/webhooks/stripe', { method: 'POST', body: '{}' }));
    expect(forged.status).toBe(401);
    expect((await app.fetch(new Request('http://shop/orders/ord_missing'))).status).toBe(404);
  } finally {
    await app.close();
  }
}

describe('stripe-checkout example (PGlite)', () => {
  it('fulfils every paid order exactly once despite duplicated, reordered and dropped webhooks', async () => {
    const db = await createPGlite();
    try {
      await scenario(db);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describeWithPostgres('stripe-checkout example', (url) => {
  it('runs the same on Postgres', async () => {
    const db = await createPostgres(url);
    const schemas = { schema: uniqueSchema('shop_ballast'), shopSchema: uniqueSchema('shop') };
    try {
      await scenario(db, schemas);
    } finally {
      await db.exec(
        `DROP SCHEMA IF EXISTS "${schemas.schema}" CASCADE; DROP SCHEMA IF EXISTS "${schemas.shopSchema}" CASCADE`,
      );
      await db.close();
    }
  }, 60_000);
});

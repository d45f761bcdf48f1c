import { createPGlite } from '@ballast/core/stores/pglite';
import { migrate, type SqlClient, type SqlExecutor, sqlInbox, sqlVersionStore } from '@ballast/core/stores/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileStripeEvents, stripeClient, stripeWebhooks } from '../src/index';
import { createFakeStripe, createWebhookSender } from '../src/testing/index';

/**
 * The chaos proof: 500 Checkout Sessions completed on the fake; the sender
 * duplicates 30% of the events, reorders 30% and drops 10%; the endpoint's
 * database is unreachable for a stretch of the deliveries (and the worker's
 * runs fail with it); reconcile recovers what never arrived. Every session
 * must be fulfilled exactly once: the fulfilment log has no unique
 * constraint, so a double run would show as a second row.
 */

const SESSIONS = 500;
const SECRET = 'whsec_chaos_test';

/** A database handle whose every call fails while `down` is set, as when the network to Postgres drops. */
function unreliable(db: SqlClient) {
  const state = { down: false, refused: 0 };
  const guard = () => {
    if (state.down) {
      state.refused++;
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    }
  };
  const wrapExecutor = (executor: SqlExecutor): SqlExecutor => ({
    query: async (text, params) => {
      guard();
      return executor.query(text, params);
    },
  });
  const client: SqlClient = {
    ...wrapExecutor(db),
    transaction: async (fn) => {
      guard();
      return db.transaction((tx) => fn(wrapExecutor(tx)));
    },
    exec: async (script) => {
      guard();
      return db.exec(script);
    },
    close: () => db.close(),
  };
  return { client, state };
}

describe('checkout fulfilment under chaos (PGlite)', () => {
  let raw: SqlClient;

  beforeAll(async () => {
    raw = await createPGlite();
    await migrate(raw);
    await raw.exec(
      `CREATE SCHEMA app;
       CREATE TABLE app.fulfilments (session_id text NOT NULL, event_id text NOT NULL, amount integer NOT NULL);`,
    );
  });
  afterAll(() => raw.close());

  it('fulfils every one of 500 sessions exactly once', async () => {
    const { client: db, state } = unreliable(raw);
    const fake = createFakeStripe({ rateLimit: false, seed: 42 });
    const stripe = stripeClient({
      apiKey: 'sk_test_chaos',
      apiVersion: '2026-10-28.endive',
      fetch: fake.fetch,
      limiter: false,
      breaker: false,
    });
    const inbox = sqlInbox(db);
    let handlerRuns = 0;
    const webhook = stripeWebhooks({
      secret: SECRET,
      inbox,
      versions: sqlVersionStore(db),
      worker: {
        concurrency: 4,
        sweepIntervalMs: 25,
        idempotency: { transactional: true },
        retry: { maxAttempts: 100, initialDelayMs: 10, maxDelayMs: 100 },
        onError: () => {},
      },
      on: {
        'checkout.session.completed': async (event, context) => {
          handlerRuns++;
          const session = event.data.object;
          if (session.payment_status !== 'paid') return;
          await (context.tx as SqlExecutor).query(
            'INSERT INTO app.fulfilments (session_id, event_id, amount) VALUES ($1, $2, $3)',
            [session.id, event.id, session.amount_total ?? 0],
          );
        },
      },
    });

    // Deliveries 600..1500 of the first pass (and the worker meanwhile) find the store down.
    let deliveries = 0;
    const endpoint = async (request: Request) => {
      deliveries++;
      state.down = deliveries >= 600 && deliveries < 1500;
      return webhook(request);
    };
    const sender = createWebhookSender(fake, {
      target: endpoint,
      secret: SECRET,
      chaos: { duplicate: 0.3, reorder: 0.3, drop: 0.1 },
      seed: 2026,
      maxAttempts: 2,
      retryDelayMs: 5,
      concurrency: 16,
    });

    const sessionIds: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const session = await stripe.post<{ id: string }>('/v1/checkout/sessions', {
        mode: 'payment',
        client_reference_id: `order-${i}`,
        line_items: [
          { price_data: { currency: 'eur', unit_amount: 100 + i, product_data: { name: `Item ${i}` } }, quantity: 1 },
        ],
      });
      sessionIds.push(session.id);
      fake.completeCheckoutSession(session.id);
    }
    const since = Math.floor(Date.now() / 1000) - 60;
    // product + price (inline price_data), then customer, payment_intent ×2, charge and the session
    expect(fake.events()).toHaveLength(SESSIONS * 7);

    const report = await sender.flush();
    state.down = false;
    expect(report.dropped.length).toBeGreaterThan(0);
    expect(report.duplicated).toBeGreaterThan(0);
    expect(report.reordered).toBeGreaterThan(0);
    expect(state.refused).toBeGreaterThan(0);
    expect(sender.attempts.some((a) => a.status === 503)).toBe(true);

    const recovered = await reconcileStripeEvents({ client: stripe, inbox, since, deliverySuccess: false });
    expect(recovered.stored).toBeGreaterThanOrEqual(report.dropped.length);
    expect(recovered.stored).toBe(recovered.listed);

    const deadline = Date.now() + 45_000;
    for (;;) {
      await webhook.worker?.drain();
      const counts = await inbox.counts();
      if (counts.processed === counts.total || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const counts = await inbox.counts();
    expect(counts.dead).toBe(0);
    expect(counts.processed).toBe(counts.total);
    expect(counts.total).toBe(fake.events().length);

    const rows = await raw.query<{ session_id: string; n: number }>(
      'SELECT session_id, count(*)::int AS n FROM app.fulfilments GROUP BY session_id',
    );
    expect(rows.rows).toHaveLength(SESSIONS);
    expect(rows.rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(new Set(rows.rows.map((r) => r.session_id))).toEqual(new Set(sessionIds));
    expect(handlerRuns).toBeGreaterThanOrEqual(SESSIONS);

    await webhook.close();
    await inbox.close();
  }, 90_000);
});

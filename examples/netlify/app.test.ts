import { createPGlite } from '@ballast/core/stores/pglite';
import { migrate, type SqlClient } from '@ballast/core/stores/sql';
import { signWebhook } from '@ballast/core/webhooks';
import type { Context } from '@netlify/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';
import { createApp } from './netlify/functions/_shared/app';

const secret = 'whsec_netlify_example';

async function delivery(id: string, invoice: string): Promise<Request> {
  const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { id: invoice } } });
  const signed = await signWebhook({ scheme: 'stripe', secret, body });
  return new Request('https://example.netlify.app/webhooks/stripe', { method: 'POST', headers: signed.headers, body });
}

describe('Netlify functions: ingest-only webhook, scheduled drain (PGlite)', () => {
  let db: SqlClient;
  const paid: Array<[string, string]> = [];
  beforeAll(async () => {
    db = await createPGlite();
    await migrate(db);
  });
  afterAll(() => db.close());

  it('stores a signed delivery (200), absorbs its duplicate, refuses garbage, and the drain runs it exactly once', async () => {
    const app = createApp({ db, webhookSecret: secret, onInvoicePaid: async (i, e) => void paid.push([i, e]) });
    expect((await app.webhook(await delivery('evt_1', 'in_1'))).status).toBe(200);
    const again = await app.webhook(await delivery('evt_1', 'in_1'));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });

    const unsigned = new Request('https://example.netlify.app/webhooks/stripe', {
      method: 'POST',
      body: '{"id":"evt_x"}',
    });
    expect((await app.webhook(unsigned)).status).toBe(401);
    const garbage = await signWebhook({ scheme: 'stripe', secret, body: 'not json at all' });
    const signedGarbage = new Request(unsigned.url, {
      method: 'POST',
      headers: garbage.headers,
      body: 'not json at all',
    });
    expect((await app.webhook(signedGarbage)).status).toBe(400);
    const forged = await delivery('evt_2', 'in_2');
    const tampered = new Request(forged.url, {
      method: 'POST',
      headers: forged.headers,
      body: (await forged.text()).replace('in_2', 'in_999'),
    });
    expect((await app.webhook(tampered)).status).toBe(401);

    expect(paid).toEqual([]); // nothing runs on the request path
    expect(await app.drain(5_000)).toMatchObject({ claimed: 1, budgetExhausted: false });
    expect(await app.drain(5_000)).toMatchObject({ claimed: 0 });
    expect(paid).toEqual([['in_1', 'evt_1']]);
  });

  it('answers 503 with Retry-After while the store is down, so the provider retries', async () => {
    const down = new Error('connect ECONNREFUSED 127.0.0.1:6543');
    const broken: SqlClient = {
      query: () => Promise.reject(down),
      transaction: () => Promise.reject(down),
      exec: () => Promise.reject(down),
      close: async () => {},
    };
    const app = createApp({ db: broken, webhookSecret: secret, onInvoicePaid: async () => {} });
    const res = await app.webhook(await delivery('evt_3', 'in_3'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describeWithPostgres('Netlify function files as deployed', (url) => {
  const schema = uniqueSchema('netlify');
  beforeAll(() => {
    process.env.BALLAST_DB_URL = url;
    process.env.STRIPE_WEBHOOK_SECRET = secret;
  });

  it('the stripe-webhook and drain modules run a delivery through Postgres, once', async () => {
    const { createPostgres } = await import('@ballast/core/stores/postgres');
    const admin = await createPostgres({ connectionString: url, max: 1 });
    await admin.exec(
      'CREATE TABLE IF NOT EXISTS public.paid_invoices (invoice_id text PRIMARY KEY, event_id text NOT NULL)',
    );
    const invoice = `in_${schema}`;
    try {
      const webhook = (await import('./netlify/functions/stripe-webhook')).default;
      const drain = (await import('./netlify/functions/drain')).default;
      expect((await webhook(await delivery(`evt_${schema}`, invoice))).status).toBe(200);
      let ran = 0;
      for (let i = 0; i < 10 && ran === 0; i++) {
        const tick = new Request('https://example.netlify.app/.netlify/functions/drain', {
          method: 'POST',
          body: JSON.stringify({ next_run: new Date(Date.now() + 60_000).toISOString() }),
        });
        await drain(tick, { requestId: `req_${i}` } as Context);
        ran = (await admin.query('SELECT 1 FROM public.paid_invoices WHERE invoice_id = $1', [invoice])).rowCount;
      }
      expect(ran).toBe(1);
    } finally {
      await admin.query('DELETE FROM public.paid_invoices WHERE invoice_id = $1', [invoice]);
      await admin.close();
    }
  });
});

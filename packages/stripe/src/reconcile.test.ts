import { memoryInbox } from '@ballast/core/stores/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { stripeClient } from './client';
import { isStripeUsageError } from './errors';
import { type ReconcileStripeEventsOptions, reconcileStripeEvents } from './reconcile';
import { createFakeStripe, createWebhookSender } from './testing/index';
import { stripeWebhooks } from './webhooks';

const SECRET = 'whsec_reconcile';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

function world(now = () => Date.now()) {
  const fake = createFakeStripe({ rateLimit: false, now });
  const client = stripeClient({
    apiKey: 'sk_test_rec',
    apiVersion: '2026-10-28.endive',
    fetch: fake.fetch,
    limiter: false,
    breaker: false,
  });
  const inbox = memoryInbox();
  const webhook = stripeWebhooks({ secret: SECRET, inbox });
  closers.push(async () => {
    await webhook.close();
    await inbox.close();
  });
  return { fake, client, inbox, webhook };
}

describe('reconcileStripeEvents', () => {
  it('stores exactly the events the webhooks missed, and recognizes the rest as duplicates', async () => {
    const { fake, client, inbox, webhook } = world();
    const sender = createWebhookSender(fake, { target: webhook, secret: SECRET, chaos: { drop: 0.4 }, seed: 7 });
    const start = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 40; i++) await client.post('/v1/customers', { email: `c${i}@example.com` });
    const report = await sender.flush();
    expect(report.dropped.length).toBeGreaterThan(5);
    expect((await inbox.counts()).total).toBe(40 - report.dropped.length);

    const missed = await reconcileStripeEvents({ client, inbox, since: start, deliverySuccess: false });
    expect(missed).toMatchObject({
      listed: report.dropped.length,
      stored: report.dropped.length,
      duplicates: 0,
      clamped: false,
    });
    expect((await inbox.counts()).total).toBe(40);
    const stored = await inbox.list({ ids: report.dropped });
    expect(stored.events.map((e) => e.id).sort()).toEqual([...report.dropped].sort());

    const everything = await reconcileStripeEvents({ client, inbox, since: new Date(start * 1000) });
    expect(everything).toMatchObject({ listed: 40, stored: 0, duplicates: 40 });
  });

  it('filters by type and clamps since to the 30-day window', async () => {
    let clock = 1_800_000_000_000;
    const { client, inbox } = world(() => clock);
    await client.post('/v1/customers', { email: 'a@example.com' });
    await client.post('/v1/products', { name: 'P' });
    clock += 31 * 86_400_000;
    await client.post('/v1/customers', { email: 'b@example.com' });
    const old = Math.floor(1_800_000_000_000 / 1000);
    const result = await reconcileStripeEvents({ client, inbox, since: old, types: ['customer.*'], now: () => clock });
    expect(result.clamped).toBe(true);
    expect(result.since).toBe(Math.floor(clock / 1000) - 30 * 86_400);
    expect(result).toMatchObject({ listed: 1, stored: 1 });
    const both = await reconcileStripeEvents({
      client,
      inbox,
      since: result.since,
      types: ['customer.created', 'product.created'],
      now: () => clock,
    });
    expect(both).toMatchObject({ listed: 1, duplicates: 1 });
  });

  it.each([
    ['no client', { client: undefined }],
    ['no inbox', { inbox: {} }],
    ['since in the future', { since: 9_999_999_999 }],
    ['since not a number', { since: 'yesterday' }],
    ['until before since', { until: 1 }],
    ['21 types', { types: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
    ['deliverySuccess not a boolean', { deliverySuccess: 'false' }],
  ])('rejects %s', async (_name, patch) => {
    const { client, inbox } = world();
    const options = {
      client,
      inbox,
      since: Math.floor(Date.now() / 1000) - 60,
      ...patch,
    } as unknown as ReconcileStripeEventsOptions;
    const error = await reconcileStripeEvents(options).catch((e: unknown) => e);
    expect(isStripeUsageError(error)).toBe(true);
  });
});

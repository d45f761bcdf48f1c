import { memoryInbox } from '@ballast/core/stores/memory';
import { secret } from '@ballast/core/vault';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import type { StripeAnyEvent, StripeEvent } from './events';
import { createFakeStripe, createWebhookSender } from './testing/index';
import {
  type StripeEventHandler,
  type StripeEventHandlers,
  type StripeWebhooksOptions,
  stripeWebhooks,
} from './webhooks';

const SECRET = 'whsec_test_webhooks_secret';
const sdk = new Stripe('sk_test_unused');
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

function event(type: string, object: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return {
    id: `evt_${Math.random().toString(36).slice(2, 12)}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: 1_700_000_000,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
    ...overrides,
  };
}

const customer = (id: string, email: string) => ({ id, object: 'customer', created: 1_700_000_000, email });

/** Signs with the official SDK, independently of Ballast. */
function delivery(payload: unknown, secret = SECRET, timestamp?: number): Request {
  const body = JSON.stringify(payload, null, 2);
  const header = sdk.webhooks.generateTestHeaderString({
    payload: body,
    secret,
    ...(timestamp === undefined ? {} : { timestamp }),
  });
  return new Request('http://localhost/webhooks/stripe', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    body,
  });
}

function endpoint(on: StripeEventHandlers, extra: Partial<StripeWebhooksOptions> = {}) {
  const inbox = memoryInbox();
  const webhook = stripeWebhooks({
    secret: SECRET,
    inbox,
    on,
    worker: { sweepIntervalMs: false, retry: { maxAttempts: 1 } },
    ...extra,
  });
  closers.push(async () => {
    await webhook.close();
    await inbox.close();
  });
  const drain = () => webhook.worker?.drain() ?? Promise.resolve();
  return { inbox, webhook, drain };
}

describe('stripeWebhooks', () => {
  it('stores a delivery signed by the official SDK, hands the typed event to its handler, and dedupes on the event id', async () => {
    const seen: string[] = [];
    const { webhook, drain, inbox } = endpoint({
      'checkout.session.completed': (e) => {
        seen.push(`${e.data.object.id}:${e.data.object.payment_status}`);
      },
    });
    const payload = event('checkout.session.completed', {
      id: 'cs_test_1',
      object: 'checkout.session',
      mode: 'payment',
      status: 'complete',
      payment_status: 'paid',
      customer: 'cus_1',
      client_reference_id: 'order-1',
      amount_total: 500,
      currency: 'usd',
      payment_intent: 'pi_1',
      created: 1_700_000_000,
    });
    const first = await webhook(delivery(payload));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    const again = await webhook(delivery(payload));
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    await drain();
    expect(seen).toEqual(['cs_test_1:paid']);
    expect((await inbox.counts()).processed).toBe(1);
  });

  it('rejects a wrong secret (401), a stale timestamp (400) and an unsigned request (401)', async () => {
    const { webhook } = endpoint({});
    const payload = event('customer.created', customer('cus_1', 'a@example.com'));
    expect((await webhook(delivery(payload, 'whsec_other'))).status).toBe(401);
    const stale = await webhook(delivery(payload, SECRET, Math.floor(Date.now() / 1000) - 600));
    expect(stale.status).toBe(400);
    expect(await stale.json()).toEqual({ error: 'timestamp_too_old' });
    const unsigned = await webhook(new Request('http://localhost/', { method: 'POST', body: JSON.stringify(payload) }));
    expect(unsigned.status).toBe(401);
  });

  it('rejects a thin v2.core.event and a signed payload that is not an event, with their codes', async () => {
    const { webhook, inbox } = endpoint({});
    const thin = await webhook(
      delivery({
        id: 'evt_thin',
        object: 'v2.core.event',
        type: 'v1.billing.meter.error_report_triggered',
        created: '2026-01-01T00:00:00.000Z',
      }),
    );
    expect(thin.status).toBe(400);
    expect(await thin.json()).toEqual({ error: 'thin_event' });
    const notEvent = await webhook(delivery({ id: 'x', hello: 'world' }));
    expect(notEvent.status).toBe(400);
    expect(await notEvent.json()).toEqual({ error: 'invalid_event' });
    expect((await inbox.counts()).total).toBe(0);
  });

  it('passes unknown types through untyped, and falls back to *', async () => {
    const seen: string[] = [];
    const { webhook, drain } = endpoint({
      'product.created': (e) => {
        seen.push(`product:${String(e.data.object.name)}`);
      },
      '*': (e) => {
        seen.push(`any:${e.type}`);
      },
    });
    await webhook(delivery(event('product.created', { id: 'prod_1', object: 'product', name: 'Pro' })));
    await webhook(
      delivery(event('radar.early_fraud_warning.created', { id: 'issfr_1', object: 'radar.early_fraud_warning' })),
    );
    await drain();
    expect(seen.sort()).toEqual(['any:radar.early_fraud_warning.created', 'product:Pro']);
  });

  it('skips an event older than one already handled for the same object', async () => {
    const seen: string[] = [];
    const stale: string[] = [];
    const { webhook, drain } = endpoint(
      {
        'customer.updated': (e) => {
          seen.push(e.data.object.email ?? '');
        },
      },
      { onStale: (e) => stale.push(e.id) },
    );
    const newer = event('customer.updated', customer('cus_9', 'new@example.com'), { created: 1_700_000_200 });
    const older = event('customer.updated', customer('cus_9', 'old@example.com'), { created: 1_700_000_100 });
    await webhook(delivery(newer));
    await drain();
    await webhook(delivery(older));
    await drain();
    expect(seen).toEqual(['new@example.com']);
    expect(stale).toEqual([older.id]);
  });

  it('runs a customer.subscription.created that arrives after its .updated, marked stale; a late update is still skipped', async () => {
    const seen: Array<[string, string, boolean]> = [];
    const skipped: string[] = [];
    const record: StripeEventHandler<StripeEvent<'customer.subscription.created' | 'customer.subscription.updated'>> = (
      e,
      context,
    ) => {
      seen.push([e.type, e.data.object.status, context.stale]);
    };
    const { webhook, drain } = endpoint(
      { 'customer.subscription.created': record, 'customer.subscription.updated': record },
      { onStale: (e) => skipped.push(e.type) },
    );
    const subscription = (status: string) => ({
      id: 'sub_late',
      object: 'subscription',
      status,
      created: 1_700_000_100,
      customer: 'cus_1',
      items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_1' }, quantity: 1 }] },
    });
    await webhook(delivery(event('customer.subscription.updated', subscription('active'), { created: 1_700_000_300 })));
    await drain();
    await webhook(
      delivery(event('customer.subscription.created', subscription('incomplete'), { created: 1_700_000_100 })),
    );
    await drain();
    await webhook(
      delivery(event('customer.subscription.updated', subscription('trialing'), { created: 1_700_000_200 })),
    );
    await drain();
    expect(seen).toEqual([
      ['customer.subscription.updated', 'active', false],
      ['customer.subscription.created', 'incomplete', true],
    ]);
    expect(skipped).toEqual(['customer.subscription.updated']);
  });

  it('with skipStale false, runs the handler and says the event is stale', async () => {
    const seen: Array<[string, boolean]> = [];
    const { webhook, drain } = endpoint(
      {
        'customer.updated': (e, context) => {
          seen.push([e.data.object.email ?? '', context.stale]);
        },
      },
      { skipStale: false },
    );
    await webhook(delivery(event('customer.updated', customer('cus_9', 'new@example.com'), { created: 200 })));
    await drain();
    await webhook(delivery(event('customer.updated', customer('cus_9', 'old@example.com'), { created: 100 })));
    await drain();
    await webhook(delivery(event('customer.updated', customer('cus_9', 'same-second@example.com'), { created: 200 })));
    await drain();
    expect(seen).toEqual([
      ['new@example.com', false],
      ['old@example.com', true],
      ['same-second@example.com', false],
    ]);
  });

  it('dead-letters a known type whose object does not match at once, with invalid_event, instead of retrying or losing it', async () => {
    const errors: unknown[] = [];
    let ran = false;
    const { webhook, drain, inbox } = endpoint(
      {
        'invoice.paid': () => {
          ran = true;
        },
      },
      { worker: { sweepIntervalMs: false, retry: { maxAttempts: 5 }, onError: (e) => errors.push(e) } },
    );
    const response = await webhook(delivery(event('invoice.paid', { id: 'in_1', object: 'invoice', created: 1 })));
    expect(response.status).toBe(200);
    await drain();
    expect(ran).toBe(false);
    const dead = await inbox.list({ status: 'dead' });
    expect(dead.events).toHaveLength(1);
    expect(dead.events[0]?.attempts).toBe(1); // no retries: the same payload fails the same way every time
    expect(dead.events[0]?.lastError).toMatch(/does not match/);
  });

  it('verifies what the fake sender signs, with two secrets during a rotation (one a vault Secret) and the test-mode v0', async () => {
    const fake = createFakeStripe({ rateLimit: false });
    const handled: StripeAnyEvent[] = [];
    const { webhook, drain } = endpoint(
      { '*': (e) => void handled.push(e) },
      { secret: [secret('whsec_new_one'), SECRET] },
    );
    const sender = createWebhookSender(fake, { target: webhook, secret: ['whsec_new_one', 'whsec_old_one'] });
    fake.emit('customer.created', customer('cus_r', 'r@example.com'));
    const report = await sender.flush();
    expect(report.delivered).toBe(1);
    await drain();
    expect(handled.map((e) => e.type)).toEqual(['customer.created']);
  });

  it('rejects bad options with typed errors', () => {
    const inbox = memoryInbox();
    closers.push(() => inbox.close());
    expect(() => stripeWebhooks(undefined as unknown as StripeWebhooksOptions)).toThrow(/options must be an object/);
    expect(() => stripeWebhooks({ inbox } as unknown as StripeWebhooksOptions)).toThrow(/secret is required/);
    expect(() => stripeWebhooks({ secret: 'nope', inbox })).toThrow();
    expect(() =>
      stripeWebhooks({ secret: SECRET, inbox, on: { 'invoice.paid': 'x' as unknown as () => void } }),
    ).toThrow(/not a function/);
  });
});

describe('the fake sender signs as Stripe does', () => {
  it('is accepted by the official SDK, adds v0 in test mode, and signs each retry with a new t', async () => {
    const fake = createFakeStripe({ rateLimit: false });
    let clock = 1_700_000_000_000;
    const headers: string[] = [];
    let calls = 0;
    const sender = createWebhookSender(fake, {
      secret: SECRET,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms * 1000;
      },
      target: async (request) => {
        const header = request.headers.get('stripe-signature') ?? '';
        headers.push(header);
        const body = await request.text();
        const parsed = sdk.webhooks.constructEvent(body, header, SECRET, Number.POSITIVE_INFINITY);
        expect(parsed.type).toBe('customer.created');
        calls++;
        return new Response(null, { status: calls < 3 ? 500 : 200 });
      },
    });
    fake.emit('customer.created', customer('cus_s', 's@example.com'));
    const report = await sender.flush();
    expect(report).toMatchObject({ events: 1, attempts: 3, delivered: 1, failed: [] });
    const ts = headers.map((h) => /t=(\d+)/.exec(h)?.[1]);
    expect(new Set(ts).size).toBe(3);
    expect(headers.every((h) => /^t=\d+,v1=[0-9a-f]{64},v0=[0-9a-f]{64}$/.test(h))).toBe(true);
    expect(fake.events()[0]?.pending_webhooks).toBe(0);
  });
});

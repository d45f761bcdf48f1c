import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeStripe, type FakeStripe, type FakeStripeServer } from './index';

/**
 * The official Stripe SDK pointed at the fake's local server: every endpoint
 * the fake implements must work through it, which is how we know the fake
 * speaks Stripe's protocol (paths, form encoding, list shapes, errors).
 */
describe('the official stripe SDK against the fake server', () => {
  let fake: FakeStripe;
  let server: FakeStripeServer;
  let sdk: Stripe;

  beforeAll(async () => {
    fake = createFakeStripe({ rateLimit: false });
    server = await fake.listen();
    sdk = new Stripe('sk_test_sdk123', {
      host: server.host,
      port: server.port,
      protocol: 'http',
      maxNetworkRetries: 2,
      telemetry: false,
    });
  });
  afterAll(() => server.close());

  it('creates, retrieves, updates, lists and deletes customers', async () => {
    const created = await sdk.customers.create({ email: 'ada@example.com', name: 'Ada', metadata: { plan: 'pro' } });
    expect(created.id).toMatch(/^cus_/);
    expect(created.metadata).toEqual({ plan: 'pro' });
    const updated = await sdk.customers.update(created.id, { metadata: { plan: '', team: 'core' }, name: 'Ada L.' });
    expect(updated.metadata).toEqual({ team: 'core' });
    expect(updated.name).toBe('Ada L.');
    expect((await sdk.customers.retrieve(created.id)).id).toBe(created.id);
    const found = await sdk.customers.list({ email: 'ada@example.com' });
    expect(found.data.map((c) => c.id)).toEqual([created.id]);
    const deleted = await sdk.customers.del(created.id);
    expect(deleted.deleted).toBe(true);
    await expect(sdk.customers.retrieve(created.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 404,
      code: 'resource_missing',
    });
  });

  it('auto-paginates newest first across pages of 100, and pages backwards with ending_before', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 230; i++) ids.push((await sdk.customers.create({ email: `bulk${i}@example.com` })).id);
    const listed: string[] = [];
    for await (const c of sdk.customers.list({ limit: 100 })) if (c.email?.startsWith('bulk')) listed.push(c.id);
    expect(listed).toEqual([...ids].reverse());

    const page = await sdk.customers.list({ limit: 3, ending_before: ids[10] as string });
    expect(page.data.map((c) => c.id)).toEqual([ids[13], ids[12], ids[11]]);
    expect(page.has_more).toBe(true);
    const after = await sdk.customers.list({ limit: 2, starting_after: ids[5] as string });
    expect(after.data.map((c) => c.id)).toEqual([ids[4], ids[3]]);
  });

  it('rejects limit outside 1..100 and both cursors at once, as Stripe does', async () => {
    await expect(sdk.customers.list({ limit: 101 })).rejects.toMatchObject({ statusCode: 400, param: 'limit' });
    await expect(sdk.customers.list({ limit: 0 })).rejects.toMatchObject({ statusCode: 400, param: 'limit' });
    await expect(sdk.customers.list({ starting_after: 'cus_x', ending_before: 'cus_y' })).rejects.toMatchObject({
      statusCode: 400,
    });
    await expect(sdk.customers.list({ starting_after: 'cus_nope' })).rejects.toMatchObject({
      statusCode: 404,
      param: 'starting_after',
    });
  });

  it('products, prices and subscriptions with their invoices', async () => {
    const product = await sdk.products.create({ name: 'Pro plan' });
    const price = await sdk.prices.create({
      product: product.id,
      currency: 'eur',
      unit_amount: 1500,
      recurring: { interval: 'month' },
    });
    expect(price.type).toBe('recurring');
    expect((await sdk.prices.list({ product: product.id })).data.map((p) => p.id)).toEqual([price.id]);
    expect((await sdk.products.retrieve(product.id)).name).toBe('Pro plan');
    expect((await sdk.products.list({ active: true, limit: 100 })).data.map((p) => p.id)).toContain(product.id);
    expect((await sdk.prices.retrieve(price.id)).unit_amount).toBe(1500);
    expect((await sdk.products.update(product.id, { active: false })).active).toBe(false);
    expect((await sdk.prices.update(price.id, { nickname: 'monthly' })).nickname).toBe('monthly');

    const customer = await sdk.customers.create({ email: 'sub@example.com' });
    const subscription = await sdk.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id, quantity: 2 }],
    });
    expect(subscription.status).toBe('active');
    expect(subscription.items.data[0]?.quantity).toBe(2);
    const invoices = await sdk.invoices.list({ customer: customer.id });
    expect(invoices.data).toHaveLength(1);
    expect(invoices.data[0]?.amount_paid).toBe(3000);
    expect((await sdk.invoices.retrieve(invoices.data[0]?.id as string)).status).toBe('paid');
    expect((await sdk.invoices.list({ subscription: subscription.id })).data).toHaveLength(1);
    expect((await sdk.subscriptions.update(subscription.id, { metadata: { seat: 'a' } })).metadata).toEqual({
      seat: 'a',
    });
    expect((await sdk.subscriptions.retrieve(subscription.id)).id).toBe(subscription.id);
    const canceled = await sdk.subscriptions.cancel(subscription.id);
    expect(canceled.status).toBe('canceled');
    expect((await sdk.subscriptions.list({ customer: customer.id })).data).toHaveLength(0);
    expect((await sdk.subscriptions.list({ customer: customer.id, status: 'all' })).data).toHaveLength(1);
  });

  it('checkout sessions and payment intents', async () => {
    const session = await sdk.checkout.sessions.create({
      mode: 'payment',
      success_url: 'https://example.com/ok',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 999, product_data: { name: 'Book' } }, quantity: 2 }],
      client_reference_id: 'order-1',
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.amount_total).toBe(1998);
    fake.completeCheckoutSession(session.id);
    const done = await sdk.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(done.status).toBe('complete');
    expect((done.payment_intent as Stripe.PaymentIntent).status).toBe('succeeded');
    expect((await sdk.checkout.sessions.list({ status: 'complete' })).data.map((s) => s.id)).toContain(session.id);

    const other = await sdk.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 5, product_data: { name: 'Pin' } } }],
    });
    expect((await sdk.checkout.sessions.expire(other.id)).status).toBe('expired');

    const intent = await sdk.paymentIntents.create({ amount: 500, currency: 'usd', metadata: { order: '7' } });
    expect(intent.status).toBe('requires_payment_method');
    expect((await sdk.paymentIntents.update(intent.id, { amount: 700 })).amount).toBe(700);
    const confirmed = await sdk.paymentIntents.confirm(intent.id);
    expect(confirmed.status).toBe('succeeded');
    const chargeId = (await sdk.paymentIntents.retrieve(intent.id)).latest_charge as string;
    expect(chargeId).toMatch(/^ch_/);
    expect((await sdk.charges.retrieve(chargeId)).amount).toBe(700);
    expect((await sdk.charges.list({ payment_intent: intent.id })).data.map((c) => c.id)).toEqual([chargeId]);
    const spare = await sdk.paymentIntents.create({ amount: 100, currency: 'usd' });
    expect((await sdk.paymentIntents.cancel(spare.id)).status).toBe('canceled');
    expect((await sdk.paymentIntents.list({ limit: 2 })).data.map((p) => p.id)).toEqual([spare.id, intent.id]);
    await expect(sdk.paymentIntents.confirm(intent.id)).rejects.toMatchObject({
      statusCode: 400,
      code: 'payment_intent_unexpected_state',
    });
  });

  it('lists and retrieves events with type, types[] and created filters', async () => {
    const start = Math.floor(Date.now() / 1000);
    const customer = await sdk.customers.create({ email: 'events@example.com' });
    await sdk.customers.update(customer.id, { name: 'Evented' });
    const created = await sdk.events.list({ type: 'customer.created', limit: 100 });
    expect(created.data.every((e) => e.type === 'customer.created')).toBe(true);
    const wildcard = await sdk.events.list({ type: 'customer.*', created: { gte: start }, limit: 100 });
    const mine = wildcard.data.filter((e) => (e.data.object as { id: string }).id === customer.id);
    expect(mine.map((e) => e.type)).toEqual(['customer.updated', 'customer.created']);
    expect(mine[0]?.data.previous_attributes).toEqual({ name: null });
    const both = await sdk.events.list({ types: ['customer.created', 'customer.updated'], created: { gte: start } });
    expect(both.data.length).toBeGreaterThanOrEqual(2);
    expect((await sdk.events.retrieve(mine[1]?.id as string)).type).toBe('customer.created');
  });

  it('replays idempotent requests and refuses a key reused with other params', async () => {
    const a = await sdk.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'key-1' });
    const b = await sdk.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'key-1' });
    expect(b.id).toBe(a.id);
    expect(fake.requests.at(-1)?.replayed).toBe(true);
    await expect(
      sdk.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'key-1' }),
    ).rejects.toMatchObject({
      type: 'StripeIdempotencyError',
    });
  });

  it('the SDK retries a lock_timeout 429, a 500 and a reset connection with the same idempotency key', async () => {
    fake.fail({ kind: 'lock_timeout' }, { path: '/v1/customers', method: 'POST' });
    fake.fail({ kind: 'status', status: 500 }, { path: '/v1/customers', method: 'POST' });
    fake.fail({ kind: 'connection' }, { path: '/v1/customers', method: 'POST' });
    const before = fake.requests.length;
    const customer = await new Stripe('sk_test_sdk123', {
      host: server.host,
      port: server.port,
      protocol: 'http',
      maxNetworkRetries: 3,
      telemetry: false,
    }).customers.create({ email: 'retry@example.com' });
    expect(customer.id).toMatch(/^cus_/);
    const tries = fake.requests.slice(before);
    expect(tries.map((r) => r.status)).toEqual([429, 500, 0, 200]);
    expect(new Set(tries.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(tries[0]?.idempotencyKey).toBeTruthy();
  }, 20_000);

  it('answers 401 for a missing or unknown key and 404 for unknown URLs', async () => {
    const locked = createFakeStripe({ apiKeys: ['sk_test_good'] });
    const lockedServer = await locked.listen();
    try {
      const bad = new Stripe('sk_test_bad', { host: '127.0.0.1', port: lockedServer.port, protocol: 'http' });
      await expect(bad.customers.list()).rejects.toMatchObject({ type: 'StripeAuthenticationError', statusCode: 401 });
      const response = await fetch(`${lockedServer.url}/v1/nothing`, {
        headers: { authorization: 'Bearer sk_test_good' },
      });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    } finally {
      await lockedServer.close();
    }
  });
});

describe('the fake rate limiter', () => {
  it('answers 429 code rate_limit past 25 requests per second in test mode, 100 in live mode', async () => {
    let now = 1_700_000_000_000;
    const fake = createFakeStripe({ now: () => now });
    const call = (key: string) =>
      fake.fetch('https://api.stripe.com/v1/customers', { headers: { authorization: `Bearer ${key}` } });
    const test = await Promise.all(Array.from({ length: 30 }, () => call('sk_test_a')));
    expect(test.filter((r) => r.status === 429)).toHaveLength(5);
    const body = (await test.find((r) => r.status === 429)?.json()) as { error: { code: string } };
    expect(body.error.code).toBe('rate_limit');
    const live = await Promise.all(Array.from({ length: 110 }, () => call('sk_live_a')));
    expect(live.filter((r) => r.status === 429)).toHaveLength(10);
    now += 1000;
    expect((await call('sk_test_a')).status).toBe(200);
  });
});

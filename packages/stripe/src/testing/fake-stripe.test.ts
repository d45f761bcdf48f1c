import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStripeUsageError } from '../errors';
import { createFakeStripe, createWebhookSender, type WebhookSenderOptions } from './index';
import { stripeMswHandlers } from './msw';

const KEY = { authorization: 'Bearer sk_test_fake1' };

function form(body: string) {
  return { method: 'POST', headers: { ...KEY, 'content-type': 'application/x-www-form-urlencoded' }, body };
}

describe('fake Stripe behaviour', () => {
  it('idempotency: replays the first answer, saved 500s included; a concurrent same-key request gets 409', async () => {
    const fake = createFakeStripe({ rateLimit: false });
    fake.fail({ kind: 'status', status: 500, saved: true }, { path: '/v1/customers' });
    const headers = { ...KEY, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'k-500' };
    const first = await fake.fetch('https://api.stripe.com/v1/customers', { method: 'POST', headers, body: 'email=a' });
    const replay = await fake.fetch('https://api.stripe.com/v1/customers', {
      method: 'POST',
      headers,
      body: 'email=a',
    });
    expect([first.status, replay.status]).toEqual([500, 500]);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('request-id')).toBe(first.headers.get('request-id'));

    const edge = createFakeStripe({ rateLimit: false });
    edge.fail({ kind: 'status', status: 503 }, { path: '/v1/customers' });
    const h2 = { ...headers, 'idempotency-key': 'k-503' };
    const a = await edge.fetch('https://api.stripe.com/v1/customers', { method: 'POST', headers: h2, body: 'email=a' });
    const b = await edge.fetch('https://api.stripe.com/v1/customers', { method: 'POST', headers: h2, body: 'email=a' });
    expect([a.status, b.status]).toEqual([503, 200]);

    const slow = createFakeStripe({ rateLimit: false });
    const h3 = { ...headers, 'idempotency-key': 'k-409' };
    const [x, y] = await Promise.all([
      slow.fetch('https://api.stripe.com/v1/customers', { method: 'POST', headers: h3, body: 'email=a' }),
      slow.fetch('https://api.stripe.com/v1/customers', { method: 'POST', headers: h3, body: 'email=a' }),
    ]);
    expect([x.status, y.status].sort()).toEqual([200, 409]);
    const conflict = [x, y].find((r) => r.status === 409) as Response;
    expect(((await conflict.json()) as { error: { type: string } }).error.type).toBe('idempotency_error');
  });

  it('validation failures are not saved, so a corrected retry with the same key succeeds', async () => {
    const fake = createFakeStripe({ rateLimit: false });
    const headers = { ...KEY, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'k-val' };
    const bad = await fake.fetch('https://api.stripe.com/v1/products', { method: 'POST', headers, body: 'name=' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; param: string } }).error).toMatchObject({
      code: 'parameter_missing',
      param: 'name',
    });
    const good = await fake.fetch('https://api.stripe.com/v1/products', { method: 'POST', headers, body: 'name=Pro' });
    expect(good.status).toBe(200);
    expect(good.headers.get('idempotent-replayed')).toBeNull();
  });

  it('events: 30-day window, delivery_success, expand and metadata unsetting', async () => {
    let clock = 1_700_000_000_000;
    const fake = createFakeStripe({ rateLimit: false, now: () => clock });
    const endpoint = fake.registerEndpoint(() => {});
    const created = (await (
      await fake.fetch('https://api.stripe.com/v1/customers', form('metadata[a]=1&metadata[b]=2'))
    ).json()) as { id: string };
    const updated = (await (
      await fake.fetch(`https://api.stripe.com/v1/customers/${created.id}`, form('metadata[a]='))
    ).json()) as { metadata: Record<string, string> };
    expect(updated.metadata).toEqual({ b: '2' });
    const cleared = (await (
      await fake.fetch(`https://api.stripe.com/v1/customers/${created.id}`, form('metadata='))
    ).json()) as { metadata: Record<string, string> };
    expect(cleared.metadata).toEqual({});

    const [firstEvent] = fake.events().slice(-1);
    endpoint.delivered(firstEvent?.id as string);
    const list = async (query: string) =>
      (
        (await (await fake.fetch(`https://api.stripe.com/v1/events?${query}`, { headers: KEY })).json()) as {
          data: Array<{ id: string }>;
        }
      ).data;
    expect(await list('delivery_success=false')).toHaveLength(2);
    expect(await list('delivery_success=true')).toHaveLength(1);

    clock += 31 * 86_400_000;
    expect(await list('')).toHaveLength(0);
    const old = await fake.fetch(`https://api.stripe.com/v1/events/${firstEvent?.id}`, { headers: KEY });
    expect(old.status).toBe(404);

    const session = (await (
      await fake.fetch(
        'https://api.stripe.com/v1/checkout/sessions',
        form(
          `mode=payment&customer=${created.id}&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=5&line_items[0][price_data][product_data][name]=x`,
        ),
      )
    ).json()) as { id: string };
    const expanded = (await (
      await fake.fetch(`https://api.stripe.com/v1/checkout/sessions/${session.id}?expand[]=customer`, { headers: KEY })
    ).json()) as { customer: { id: string; object: string } };
    expect(expanded.customer).toMatchObject({ id: created.id, object: 'customer' });
  });

  it('rejects JSON bodies, Basic auth works, unknown routes are 404 in Stripe shape', async () => {
    const fake = createFakeStripe({ rateLimit: false });
    const json = await fake.fetch('https://api.stripe.com/v1/customers', {
      method: 'POST',
      headers: { ...KEY, 'content-type': 'application/json' },
      body: '{"email":"a"}',
    });
    expect(json.status).toBe(400);
    const basic = await fake.fetch('https://api.stripe.com/v1/customers', {
      headers: { authorization: `Basic ${btoa('sk_test_basic:')}` },
    });
    expect(basic.status).toBe(200);
    const none = await fake.fetch('https://api.stripe.com/v1/customers');
    expect(none.status).toBe(401);
    const unknown = await fake.fetch('https://api.stripe.com/v1/nope', { headers: KEY });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('request-id')).toMatch(/^req_/);
  });
});

describe('stripeMswHandlers', () => {
  const fake = createFakeStripe({ rateLimit: false });
  const server = setupServer();
  beforeAll(async () => {
    server.use(...(await stripeMswHandlers(fake)));
    server.listen({ onUnhandledFrame: 'error' });
  });
  afterAll(() => server.close());

  it('answers calls to api.stripe.com from the fake', async () => {
    const response = await fetch('https://api.stripe.com/v1/customers', form('email=msw%40example.com'));
    const customer = (await response.json()) as { id: string; email: string };
    expect(customer.email).toBe('msw@example.com');
    expect(fake.object(customer.id)).toMatchObject({ email: 'msw@example.com' });
  });

  it('a connection fault becomes a network error', async () => {
    fake.fail({ kind: 'connection' });
    await expect(fetch('https://api.stripe.com/v1/customers', { headers: KEY })).rejects.toThrow();
  });
});

describe('testing API input', () => {
  it.each([
    ['createFakeStripe rateLimit 0', () => createFakeStripe({ rateLimit: { live: 0, test: 25 } })],
    ['createFakeStripe a publishable apiKey', () => createFakeStripe({ apiKeys: ['pk_test_x'] })],
    ['createFakeStripe a string clock', () => createFakeStripe({ now: 5 as unknown as () => number })],
    ['fail with an unknown kind', () => createFakeStripe().fail({ kind: 'boom' } as unknown as { kind: 'connection' })],
    ['fail with status 200', () => createFakeStripe().fail({ kind: 'status', status: 200 })],
    ['fail zero times', () => createFakeStripe().fail({ kind: 'connection' }, { times: 0 })],
    ['completing an unknown session', () => createFakeStripe().completeCheckoutSession('cs_test_missing')],
    [
      'a sender without target',
      () => createWebhookSender(undefined, { secret: 'whsec_x' } as unknown as WebhookSenderOptions),
    ],
    ['a sender with a bad URL', () => createWebhookSender(undefined, { target: 'not a url', secret: 'whsec_x' })],
    [
      'a sender with drop 2',
      () => createWebhookSender(undefined, { target: 'http://x/', secret: 'whsec_x', chaos: { drop: 2 } }),
    ],
    ['a sender with no secret', () => createWebhookSender(undefined, { target: 'http://x/', secret: [] })],
    [
      'a sender with 0 attempts',
      () => createWebhookSender(undefined, { target: 'http://x/', secret: 's', maxAttempts: 0 }),
    ],
  ])('rejects %s with a StripeUsageError', (_name, fn) => {
    try {
      fn();
      expect.unreachable();
    } catch (error) {
      expect(isStripeUsageError(error)).toBe(true);
    }
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebhookVerificationError } from '../webhooks/errors';
import { signWebhook } from '../webhooks/sign';
import { isInboxError } from './errors';
import { createWebhookHandler, type WebhookHandler } from './handler';
import { createInbox } from './inbox';
import { memoryInbox } from './memory';
import { memoryInboxDriver } from './memory-driver';
import { inProcessQueue } from './queue';

const SECRET = 'whsec_handler_test';
const URL_ = 'http://127.0.0.1/webhooks/stripe';

async function delivery(event: { id: string; type: string; [k: string]: unknown }, secret = SECRET): Promise<Request> {
  const signed = await signWebhook({ scheme: 'stripe', secret, body: JSON.stringify(event) });
  return new Request(URL_, { method: 'POST', headers: signed.headers, body: signed.body as string });
}

const handlers: WebhookHandler[] = [];
function make(options: Partial<Parameters<typeof createWebhookHandler>[0]> = {}) {
  const inbox = options.inbox ?? memoryInbox();
  const handler = createWebhookHandler({
    source: 'stripe',
    verify: { scheme: 'stripe', secret: SECRET },
    inbox,
    onError: () => {}, // the default reporter's console lines are not what these tests check
    ...options,
  });
  handlers.push(handler);
  return { handler, inbox };
}
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.close()));
});

describe('createWebhookHandler responses', () => {
  it('stores a verified event before answering 200, and answers a duplicate 200 without storing again', async () => {
    const { handler, inbox } = make();
    const first = await handler(await delivery({ id: 'evt_1', type: 'invoice.paid' }));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    // the row is committed by the time the response exists
    expect(await inbox.get('stripe', 'evt_1')).toMatchObject({ type: 'invoice.paid', status: 'received' });
    const again = await handler(await delivery({ id: 'evt_1', type: 'invoice.paid' }));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    expect((await inbox.counts()).total).toBe(1);
  });

  it('answers a forged signature 401 with the code and nothing about the secret', async () => {
    const { handler, inbox } = make();
    const res = await handler(await delivery({ id: 'evt_x', type: 't' }, 'whsec_someone_else'));
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'no_matching_signature' });
    expect(text).not.toContain('whsec');
    expect((await inbox.counts()).total).toBe(0);
  });

  it('answers a missing signature 401 and a malformed one 400', async () => {
    const { handler } = make();
    const body = JSON.stringify({ id: 'evt_y', type: 't' });
    const missing = await handler(new Request(URL_, { method: 'POST', body }));
    expect([missing.status, (await missing.json()).error]).toEqual([401, 'missing_header']);
    const malformed = await handler(
      new Request(URL_, { method: 'POST', body, headers: { 'stripe-signature': 'garbage' } }),
    );
    expect([malformed.status, (await malformed.json()).error]).toEqual([400, 'malformed_header']);
  });

  it('answers an oversized body 413 without storing it', async () => {
    const { handler, inbox } = make({ maxBodyBytes: 64 });
    const res = await handler(await delivery({ id: 'evt_big', type: 't', pad: 'x'.repeat(200) }));
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe('body_too_large');
    expect((await inbox.counts()).total).toBe(0);
  });

  it('answers anything but POST with 405', async () => {
    const { handler } = make();
    const res = await handler(new Request(URL_, { method: 'GET' }));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('answers 503 with Retry-After, never 200, when the store is unreachable', async () => {
    const driver = memoryInboxDriver();
    const inbox = createInbox({
      ...driver,
      insert: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
    });
    const errors: unknown[] = [];
    const { handler } = make({ inbox, onError: (e) => errors.push(e) });
    const res = await handler(await delivery({ id: 'evt_down', type: 't' }));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toEqual({ error: 'store_unavailable' });
    expect(errors.some((e) => isInboxError(e) && e.code === 'store_unavailable')).toBe(true);
  });

  it('answers 503 when the store does not commit in time', async () => {
    const driver = memoryInboxDriver();
    const inbox = createInbox(
      { ...driver, insert: () => new Promise<boolean[]>(() => {}) },
      { groupCommit: { timeoutMs: 20 } },
    );
    const { handler } = make({ inbox });
    const res = await handler(await delivery({ id: 'evt_slow', type: 't' }));
    expect(res.status).toBe(503);
  });

  it('answers 400 for a body that is not JSON, and for an event the store rejects', async () => {
    const { handler } = make();
    const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body: 'not json' });
    const res = await handler(
      new Request(URL_, { method: 'POST', headers: signed.headers, body: signed.body as string }),
    );
    expect([res.status, (await res.json()).error]).toEqual([400, 'invalid_body']);
    const badType = await handler(await delivery({ id: 'evt_t', type: 'x'.repeat(300) }));
    expect([badType.status, (await badType.json()).error]).toEqual([400, 'invalid_event']);
  });

  it('takes the type from eventType when given, and a custom verify function', async () => {
    const { handler, inbox } = make({
      verify: async ({ body }) => ({
        id: 'custom_1',
        type: undefined,
        deliveryId: null,
        timestamp: null,
        scheme: 'custom',
        payload: JSON.parse(new TextDecoder().decode(body)),
        rawBody: body,
      }),
      eventType: (event) => `custom.${(event.payload as { kind: string }).kind}`,
    });
    const res = await handler(new Request(URL_, { method: 'POST', body: '{"kind":"ping"}' }));
    expect(res.status).toBe(200);
    expect(await inbox.get('stripe', 'custom_1')).toMatchObject({ type: 'custom.ping' });
  });

  it("answers 500 only for the deployment's own faults, and 400 when eventType cannot judge the event", async () => {
    const errors: unknown[] = [];
    const misconfigured = make({
      verify: async () => {
        throw new WebhookVerificationError('invalid_secret', 'the secret is not a whsec_ secret');
      },
      onError: (error) => errors.push(error),
    });
    const bad = await misconfigured.handler(new Request(URL_, { method: 'POST', body: '{}' }));
    expect([bad.status, (await bad.json()).error]).toEqual([500, 'invalid_secret']);
    expect(errors).toHaveLength(1); // reported, since the operator must fix it

    const buggy = make({
      verify: async () => {
        throw new RangeError('a bug in a custom verifier');
      },
    });
    const crash = await buggy.handler(new Request(URL_, { method: 'POST', body: '{}' }));
    expect([crash.status, (await crash.json()).error]).toEqual([500, 'internal_error']);

    const typeless = make({
      eventType: () => {
        throw new Error('no type here');
      },
    });
    const res = await typeless.handler(await delivery({ id: 'evt_typeless', type: 't' }));
    expect([res.status, (await res.json()).error]).toEqual([400, 'invalid_event']);
    expect(await typeless.inbox.get('stripe', 'evt_typeless')).toBeNull();
  });

  it('rejects bad options with invalid_options', () => {
    const inbox = memoryInbox();
    const bad = [
      { source: 'has space', verify: { scheme: 'stripe' as const, secret: SECRET }, inbox },
      { source: 'stripe', verify: 42, inbox },
      { source: 'stripe', verify: { scheme: 'stripe' as const, secret: SECRET }, inbox: {} },
      { source: 'stripe', verify: { scheme: 'stripe' as const, secret: SECRET }, inbox, maxBodyBytes: 0 },
      { source: 'stripe', verify: { scheme: 'stripe' as const, secret: SECRET }, inbox, eventType: 'type' },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        createWebhookHandler(options as never);
      } catch (e) {
        error = e;
      }
      expect(isInboxError(error) && error.code).toBe('invalid_options');
    }
  });
});

describe('createWebhookHandler processing', () => {
  it('processes stored events off the request path, each once, however often delivered', async () => {
    const seen: string[] = [];
    const { handler, inbox } = make({
      on: { 'invoice.paid': async (event) => void seen.push(event.id) },
      worker: { sweepIntervalMs: false },
    });
    const requests = await Promise.all(
      ['a', 'b', 'a', 'c', 'b', 'a'].map((id) => delivery({ id: `evt_${id}`, type: 'invoice.paid' })),
    );
    const responses = await Promise.all(requests.map((r) => handler(r)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await handler.worker?.drain();
    expect(seen.sort()).toEqual(['evt_a', 'evt_b', 'evt_c']);
    expect((await inbox.counts()).processed).toBe(3);
  });

  it('processes events fed by a catch-up job through inbox.ingest, deduplicated against the webhooks', async () => {
    const seen: string[] = [];
    const { handler, inbox } = make({
      on: { '*': async (event) => void seen.push(event.id) },
      worker: { sweepIntervalMs: false },
    });
    expect((await handler(await delivery({ id: 'evt_hook', type: 'invoice.paid' }))).status).toBe(200);
    // a reconcile job found two events: one the webhook already brought, one it missed
    const results = await Promise.all(
      ['evt_hook', 'evt_missed'].map((id) => inbox.ingest('stripe', { id, payload: { id, type: 'invoice.paid' } })),
    );
    expect(results.map((r) => r.outcome)).toEqual(['duplicate', 'stored']);
    await vi.waitFor(() => expect(seen.sort()).toEqual(['evt_hook', 'evt_missed'])); // no drain: the queue brings them
    await handler.worker?.drain();
    expect(seen).toHaveLength(2);
  });

  it('publishes to the queue when it only ingests', async () => {
    const queue = inProcessQueue();
    const jobs: string[] = [];
    await queue.work('inbox.stripe', async (job) => void jobs.push(job.id), { concurrency: 1 });
    const { handler } = make({ queue });
    await handler(await delivery({ id: 'evt_q', type: 't' }));
    await handler(await delivery({ id: 'evt_q', type: 't' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(jobs).toEqual(['evt_q']);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { signWebhook } from '../webhooks/sign';
import { createWebhookVerifier } from '../webhooks/verify';
import { isInboxError } from './errors';
import { createWebhookHandler, type WebhookHandler } from './handler';
import { createInbox } from './inbox';
import { memoryInbox } from './memory';
import { memoryInboxDriver } from './memory-driver';
import { sqlInbox } from './sql';

const SECRET = 'whsec_handler_ingest';
const URL_ = 'http://127.0.0.1/webhooks/x';

async function signed(body: string, extra: Record<string, string> = {}): Promise<Request> {
  const s = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
  return new Request(URL_, { method: 'POST', headers: { ...s.headers, ...extra }, body });
}

const handlers: WebhookHandler[] = [];
function make(options: Partial<Parameters<typeof createWebhookHandler>[0]> = {}) {
  const inbox = options.inbox ?? memoryInbox();
  const handler = createWebhookHandler({
    source: 'shop',
    verify: { scheme: 'stripe', secret: SECRET },
    inbox,
    onError: () => {},
    ...options,
  });
  handlers.push(handler);
  return { handler, inbox };
}
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.close()));
  vi.restoreAllMocks();
});

describe('createWebhookHandler: what it stores', () => {
  it('answers a signed payload that is not a JSON object 400 invalid_event, and stores nothing', async () => {
    const { handler, inbox } = make({ verify: createWebhookVerifier({ scheme: 'github', secret: 'gh-secret' }) });
    for (const body of ['[1,2]', '"x"', 'null', '42']) {
      const s = await signWebhook({ scheme: 'github', secret: 'gh-secret', body, id: `d-${body}`, type: 'push' });
      const res = await handler(new Request(URL_, { method: 'POST', headers: s.headers, body }));
      expect([res.status, (await res.json()).error], body).toEqual([400, 'invalid_event']);
    }
    expect((await inbox.counts()).total).toBe(0);
  });

  it('runs the handler for the type the scheme read from a header (GitHub’s X-GitHub-Event)', async () => {
    const ran: string[] = [];
    const { handler, inbox } = make({
      verify: { scheme: 'github', secret: 'gh-secret' },
      on: { push: async (event) => void ran.push(event.id) },
    });
    const body = JSON.stringify({ ref: 'refs/heads/main' }); // no `type` in a GitHub payload
    const s = await signWebhook({ scheme: 'github', secret: 'gh-secret', body, id: 'delivery-1', type: 'push' });
    const res = await handler(new Request(URL_, { method: 'POST', headers: s.headers, body }));
    expect(res.status).toBe(200);
    await handler.worker?.drain();
    expect((await inbox.list()).events.map((e) => [e.type, e.status])).toEqual([['push', 'processed']]);
    expect(ran).toHaveLength(1);
    // the headers the scheme read are kept with the event
    expect(Object.keys((await inbox.list()).events[0]?.headers ?? {}).sort()).toContain('x-github-event');
  });

  it('keeps the raw body and the headers the scheme read, never other headers or credentials', async () => {
    const { handler, inbox } = make();
    const body = '{"id":"evt_raw","type":"charge.succeeded","amount":12345678901234567890}';
    const res = await handler(await signed(body, { cookie: 'session=secret', 'x-other': 'no' }));
    expect(res.status).toBe(200);
    const stored = await inbox.get('shop', 'evt_raw');
    expect(stored?.rawBody).toBe(body);
    expect(Object.keys(stored?.headers ?? {})).toEqual(['stripe-signature']);
    // the stored pair verifies again
    const again = await createWebhookVerifier({ scheme: 'stripe', secret: SECRET })({
      body: stored?.rawBody ?? '',
      headers: stored?.headers ?? {},
    });
    expect(again.id).toBe('evt_raw');
  });

  it('refuses verify: { payload: "raw" } at construction with invalid_options', () => {
    let error: unknown;
    try {
      createWebhookHandler({
        source: 's',
        verify: { scheme: 'stripe', secret: SECRET, payload: 'raw' },
        inbox: memoryInbox(),
      });
    } catch (e) {
      error = e;
    }
    expect(isInboxError(error) && error.code).toBe('invalid_options');
  });
});

describe('createWebhookHandler: failures', () => {
  it('answers one deep payload 400 on its own; the 200 valid deliveries batched with it get 200 (PGlite)', async () => {
    const db = await createPGlite();
    try {
      await migrate(db, { modules: ['inbox'] });
      const { handler, inbox } = make({ inbox: sqlInbox(db) });
      const deep = (i: number) => `{"id":"deep${i}","type":"t","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      const bodies = Array.from({ length: 206 }, (_, i) => (i % 34 === 33 ? deep(i) : `{"id":"ok${i}","type":"t"}`));
      const requests = await Promise.all(bodies.map((b) => signed(b)));
      const statuses = await Promise.all(requests.map(async (r) => (await handler(r)).status));
      expect(statuses.filter((s) => s === 200)).toHaveLength(200);
      expect(statuses.filter((s) => s === 400)).toHaveLength(6);
      expect((await inbox.counts()).total).toBe(200);
      await inbox.close();
    } finally {
      await db.close();
    }
  });

  it('answers a fetch-based store’s TypeError 503 store_unavailable, not 400', async () => {
    const inbox = createInbox({
      ...memoryInboxDriver(),
      insert: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const { handler } = make({ inbox });
    const res = await handler(await signed('{"id":"evt_f","type":"t"}'));
    expect([res.status, (await res.json()).error, res.headers.get('retry-after')]).toEqual([
      503,
      'store_unavailable',
      '5',
    ]);
  });

  it('answers 503 overloaded with Retry-After when the write queue is full', async () => {
    const inbox = createInbox(
      { ...memoryInboxDriver(), insert: () => new Promise<boolean[]>(() => {}) },
      { groupCommit: { maxInFlight: 1, maxPending: 1, timeoutMs: 60_000 } },
    );
    const { handler } = make({ inbox });
    void handler(await signed('{"id":"evt_1","type":"t"}')); // taken by the only slot, hangs
    await new Promise((resolve) => setImmediate(resolve));
    void handler(await signed('{"id":"evt_2","type":"t"}')); // queued
    const res = await handler(await signed('{"id":"evt_3","type":"t"}'));
    expect([res.status, (await res.json()).error, res.headers.get('retry-after')]).toEqual([503, 'overloaded', '1']);
  });

  it('reports body_already_parsed (a misconfigured route) to the default reporter and answers 500', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const inbox = memoryInbox();
    const handler = createWebhookHandler({ source: 'shop', verify: { scheme: 'stripe', secret: SECRET }, inbox });
    handlers.push(handler);
    const parsed = () =>
      handler.handle({
        method: 'POST',
        headers: {},
        body: async () => {
          const { WebhookVerificationError } = await import('../webhooks/errors');
          throw new WebhookVerificationError('body_already_parsed', 'req.body is an object: a JSON parser ran first');
        },
      });
    const first = await parsed();
    await parsed();
    expect([first.status, JSON.parse(first.body).error]).toEqual([500, 'body_already_parsed']);
    expect(logged).toHaveBeenCalledTimes(1); // each cause once
    expect(String(logged.mock.calls[0]?.[0])).toContain('[webhook shop]');
  });
});

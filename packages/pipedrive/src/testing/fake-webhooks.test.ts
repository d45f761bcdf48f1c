import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedriveOptions, type JsonObject } from './index';

const TOKEN = { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN };
const API = 'https://api.pipedrive.com';
const HOOK = 'https://app.example.com/webhooks/pipedrive';

interface Received {
  authorization: string | null;
  body: { meta: JsonObject; data: JsonObject | null; previous: JsonObject | null } & JsonObject;
}

/** A receiver whose status per call comes from `statuses` (then 200). */
function receiver(statuses: number[] = []) {
  const received: Received[] = [];
  const target = async (request: Request): Promise<Response> => {
    received.push({
      authorization: request.headers.get('authorization'),
      body: (await request.json()) as Received['body'],
    });
    return new Response(null, { status: statuses.shift() ?? 200 });
  };
  return { received, target };
}

async function register(fake: ReturnType<typeof createFakePipedrive>, body: Record<string, unknown>) {
  const res = await fake.fetch(`${API}/v1/webhooks`, {
    method: 'POST',
    headers: { ...TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { success: boolean; data: JsonObject; error?: string } };
}

function make(options: FakePipedriveOptions = {}) {
  return createFakePipedrive({ now: () => Date.now(), rateLimit: false, ...options });
}

describe('fake Pipedrive: webhook registration', () => {
  it('POST/GET/DELETE /v1/webhooks, version 2.0 by default, each bad input a 400, at most 40 per user', async () => {
    const fake = make();
    const created = await register(fake, {
      subscription_url: HOOK,
      event_action: '*',
      event_object: 'person',
      http_auth_user: 'u',
      http_auth_password: 'p',
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ id: 1, version: '2.0', http_auth_user: 'u', event_object: 'person' });
    for (const bad of [
      { event_action: '*', event_object: 'person' },
      { subscription_url: 'not a url', event_action: '*', event_object: 'person' },
      { subscription_url: HOOK, event_action: 'poke', event_object: 'person' },
      { subscription_url: HOOK, event_action: '*', event_object: 'planet' },
      { subscription_url: HOOK, event_action: '*', event_object: 'person', version: '3.0' },
    ]) {
      const res = await register(fake, bad);
      expect(res.status).toBe(400);
      expect(res.body.success).toBe(false);
    }
    for (let i = 0; i < 39; i++) await register(fake, { subscription_url: HOOK, event_action: '*', event_object: '*' });
    expect((await register(fake, { subscription_url: HOOK, event_action: '*', event_object: '*' })).status).toBe(422);
    const list = await fake.fetch(`${API}/v1/webhooks`, { headers: TOKEN });
    expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(40);
    const del = await fake.fetch(`${API}/v1/webhooks/1`, { method: 'DELETE', headers: TOKEN });
    expect(del.status).toBe(200);
    expect((await fake.fetch(`${API}/v1/webhooks/1`, { method: 'DELETE', headers: TOKEN })).status).toBe(404);
    expect(fake.webhooks()).toHaveLength(39);
  });
});

describe('fake Pipedrive: webhook delivery', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-12-07T10:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('v2 payloads with meta.id, Basic auth, previous = changed fields only, for API and UI changes', async () => {
    const { received, target } = receiver();
    const fake = make({ webhooks: { target } });
    await register(fake, {
      subscription_url: HOOK,
      event_action: '*',
      event_object: 'person',
      http_auth_user: 'ballast',
      http_auth_password: 's3cret',
    });
    fake.create('person', { name: 'Ada' });
    await vi.advanceTimersByTimeAsync(1000);
    fake.edit('person', 1, { name: 'Ada King' });
    await fake.fetch(`${API}/api/v2/persons/1`, { method: 'DELETE', headers: TOKEN });
    await fake.webhooksIdle();
    expect(received.map((r) => r.body.meta.action)).toEqual(['create', 'change', 'delete']);
    expect(received.map((r) => r.body.meta.change_source)).toEqual(['app', 'app', 'api']);
    expect(received[0]?.authorization).toBe(`Basic ${btoa('ballast:s3cret')}`);
    const [create, change, remove] = received.map((r) => r.body);
    expect(create?.meta).toMatchObject({ entity: 'person', entity_id: '1', version: '2.0', attempt: 1 });
    expect(create?.previous).toBeNull();
    expect(change?.previous).toEqual({ name: 'Ada' });
    expect(change?.data).toMatchObject({ id: 1, name: 'Ada King' });
    expect(remove?.data).toBeNull();
    expect(remove?.previous).toMatchObject({ name: 'Ada King', is_deleted: false });
    expect(new Set(received.map((r) => r.body.meta.id)).size).toBe(3);
    expect(typeof create?.meta.id).toBe('string');
  });

  it('v1 payloads: {v:1, meta:{action:added|updated|deleted, object, id}, retry, current, previous}', async () => {
    const { received, target } = receiver();
    const fake = make({ webhooks: { target } });
    await register(fake, { subscription_url: HOOK, event_action: 'updated', event_object: 'deal', version: '1.0' });
    fake.seed({ deal: 1 });
    fake.create('deal', { title: 'ignored, an added event' });
    fake.edit('deal', 1, { value: 5 });
    await fake.webhooksIdle();
    expect(received).toHaveLength(1);
    expect(received[0]?.body).toMatchObject({
      v: 1,
      meta: { action: 'updated', object: 'deal', id: 1 },
      retry: 0,
      current: { id: 1, value: 5 },
      event: 'updated.deal',
    });
  });

  it('retries after 3, 30 and 150 s (attempt 1-4), then gives up; a compressed schedule keeps the shape', async () => {
    const { received, target } = receiver([500, 500, 500, 500]);
    const fake = make({ webhooks: { target } });
    await register(fake, { subscription_url: HOOK, event_action: '*', event_object: '*' });
    const start = Date.now();
    fake.create('person', { name: 'Ada' });
    await vi.advanceTimersByTimeAsync(0);
    expect(received).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2999);
    expect(received).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(received).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(received).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(150_000);
    expect(received).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(received).toHaveLength(4);
    expect(received.map((r) => r.body.meta.attempt)).toEqual([1, 2, 3, 4]);
    expect(new Set(received.map((r) => r.body.meta.id)).size).toBe(1);
    expect(fake.deliveries.map((d) => d.at - start)).toEqual([0, 3000, 33_000, 183_000]);

    const compressed = receiver([503, 200]);
    const quick = make({ webhooks: { target: compressed.target, retryDelaysMs: [3, 30, 150] } });
    await register(quick, { subscription_url: HOOK, event_action: '*', event_object: '*' });
    quick.create('person', { name: 'Ben' });
    await vi.advanceTimersByTimeAsync(3);
    expect(compressed.received.map((r) => r.body.meta.attempt)).toEqual([1, 2]);
    expect(quick.deliveries.map((d) => d.outcome)).toEqual(['failed', 'delivered']);
  });

  it('a timeout (10 s) or a network error is a failure', async () => {
    const hang = make({
      webhooks: {
        target: (request) =>
          new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(new Error('aborted')))),
        retryDelaysMs: [],
      },
    });
    await register(hang, { subscription_url: HOOK, event_action: '*', event_object: '*' });
    hang.create('person', { name: 'Ada' });
    await vi.advanceTimersByTimeAsync(9999);
    expect(hang.deliveries).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(hang.deliveries[0]).toMatchObject({ status: 0, outcome: 'failed' });
  });

  it('10 failed first attempts ban the webhook for 30 min: events during the ban are lost, retries too', async () => {
    let failing = true;
    const seen: string[] = [];
    const fake = make({
      webhooks: {
        target: async (request) => {
          seen.push(((await request.json()) as { meta: { id: string } }).meta.id);
          return new Response(null, { status: failing ? 500 : 200 });
        },
      },
    });
    await register(fake, { subscription_url: HOOK, event_action: '*', event_object: '*' });
    for (let i = 0; i < 9; i++) fake.create('person', { name: `P${i}` });
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.webhookBan(1)).toMatchObject({ banned: false, failures: 9 });
    // retries failing do not count
    await vi.advanceTimersByTimeAsync(3000);
    expect(fake.webhookBan(1)).toMatchObject({ banned: false, failures: 9 });
    fake.create('person', { name: 'P9' });
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.webhookBan(1)).toMatchObject({ banned: true, failures: 0 });
    failing = false;
    const before = seen.length;
    fake.create('person', { name: 'lost' });
    await vi.advanceTimersByTimeAsync(29 * 60_000);
    expect(seen.length).toBe(before);
    const lost = fake.deliveries.filter((d) => d.outcome === 'lost');
    expect(lost.some((d) => (d.body.data as JsonObject | null)?.name === 'lost')).toBe(true);
    expect(lost.filter((d) => d.attempt === 0).length).toBeGreaterThan(1); // pending retries were lost too
    await vi.advanceTimersByTimeAsync(60_000);
    fake.create('person', { name: 'after' });
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.deliveries.at(-1)).toMatchObject({ outcome: 'delivered', attempt: 1 });
    expect(fake.webhookBan(1)).toMatchObject({ banned: false });
  });
});

describe('fake Pipedrive: pending webhook retries and process exit (real timers)', () => {
  it('a retry waiting after a failed delivery does not keep the process alive, unless idle() is awaited', async () => {
    const scheduled: { delay: number; timer: NodeJS.Timeout }[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, delay?: number) => {
      const timer = realSetTimeout(fn, delay);
      scheduled.push({ delay: delay ?? 0, timer });
      return timer;
    }) as typeof setTimeout);
    try {
      const { received, target } = receiver([500]);
      const fake = make({ webhooks: { target, retryDelaysMs: [200] } });
      await register(fake, { subscription_url: HOOK, event_action: '*', event_object: '*' });
      fake.create('person', { name: 'Ada' });
      await vi.waitFor(() => expect(scheduled.find((s) => s.delay === 200)).toBeDefined());
      const retry = scheduled.find((s) => s.delay === 200)?.timer as NodeJS.Timeout;
      // scheduled, yet it does not keep the event loop running: a test process may end here
      expect(retry.hasRef()).toBe(false);
      const idle = fake.webhooksIdle();
      expect(retry.hasRef()).toBe(true);
      await idle;
      expect(received.map((r) => r.body.meta.attempt)).toEqual([1, 2]);
      expect(fake.deliveries.map((d) => d.outcome)).toEqual(['failed', 'delivered']);
    } finally {
      spy.mockRestore();
    }
  });
});

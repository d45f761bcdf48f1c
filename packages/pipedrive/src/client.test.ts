import { secret } from '@ballast/core/vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type PipedriveClientOptions, pipedriveClient } from './client';
import { isPipedriveError, isPipedriveUsageError, type PipedriveError } from './errors';

type Handler = (request: Request) => Response | Promise<Response>;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function setup(handler: Handler, extra: Partial<PipedriveClientOptions> = {}) {
  const seen: Request[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push(request.clone());
    return handler(request);
  };
  const client = pipedriveClient({
    auth: { type: 'api_token', token: 'tok-123' },
    plan: 'lite',
    baseUrl: 'http://pipedrive.test',
    fetch,
    breaker: false,
    retryBudget: false,
    baseDelayMs: 0,
    maxDelayMs: 0,
    ...extra,
  });
  return { client, seen };
}

async function rejection(promise: Promise<unknown>): Promise<PipedriveError> {
  try {
    await promise;
  } catch (error) {
    return error as PipedriveError;
  }
  throw new Error('expected a rejection');
}

const person = (id: number, extra: Record<string, unknown> = {}) => ({
  id,
  name: `P${id}`,
  update_time: '2026-01-01T00:00:00Z',
  ...extra,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('pipedriveClient: auth', () => {
  it('sends an API token (a vault Secret too) in x-api-token, never in the URL', async () => {
    const { client, seen } = setup(() => json({ success: true, data: person(1) }), {
      auth: { type: 'api_token', token: secret('tok-secret') },
    });
    await client.persons.get(1);
    expect(seen[0]?.headers.get('x-api-token')).toBe('tok-secret');
    expect(seen[0]?.url).toBe('http://pipedrive.test/api/v2/persons/1');
    expect(seen[0]?.headers.get('authorization')).toBeNull();
  });

  it('a bad token is an unauthorized error that carries Pipedrive’s message, not the token', async () => {
    const { client } = setup(() =>
      json({ success: false, error: 'unauthorized access', error_info: 'Please check the token' }, 401),
    );
    const error = await rejection(client.persons.get(1));
    expect(isPipedriveError(error)).toBe(true);
    expect(error.kind).toBe('unauthorized');
    expect(error.status).toBe(401);
    expect(error.pipedriveError).toBe('unauthorized access');
    expect(error.errorInfo).toBe('Please check the token');
    expect(error.message).not.toContain('tok-123');
  });

  it('OAuth: one refresh for concurrent 401s, tokens handed to onTokens, each call replayed once', async () => {
    let current = 'old';
    const refresh = vi.fn(async (_current: { accessToken: string; refreshToken?: string | undefined }) => {
      await new Promise((r) => setTimeout(r, 5));
      current = 'new';
      return { accessToken: 'new', refreshToken: 'r2', expiresAt: Date.now() + 3_600_000 };
    });
    const onTokens = vi.fn();
    const { client, seen } = setup(
      (request) =>
        request.headers.get('authorization') === `Bearer ${current}` && current === 'new'
          ? json({ success: true, data: person(1) })
          : json({ success: false, error: 'expired' }, 401),
      { auth: { type: 'oauth', accessToken: 'old', refreshToken: 'r1', refresh, onTokens } },
    );
    const results = await Promise.all([client.persons.get(1), client.persons.get(1), client.persons.get(1)]);
    expect(results.map((p) => p.id)).toEqual([1, 1, 1]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(refresh.mock.calls[0]?.[0]).toMatchObject({ accessToken: 'old', refreshToken: 'r1' });
    expect(onTokens).toHaveBeenCalledWith(expect.objectContaining({ accessToken: 'new', refreshToken: 'r2' }));
    expect(seen.filter((r) => r.headers.get('authorization') === 'Bearer new')).toHaveLength(3);
  });

  it('OAuth: a 401 after the refresh is unauthorized (no second refresh, no loop)', async () => {
    const refresh = vi.fn(async () => ({ accessToken: 'new' }));
    const { client, seen } = setup(() => json({ success: false, error: 'revoked' }, 401), {
      auth: { type: 'oauth', accessToken: 'old', refresh },
    });
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe('unauthorized');
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(seen).toHaveLength(2);
  });

  it('OAuth: a token known to be expired is refreshed before sending, and OAuth gets its own burst column', async () => {
    const refresh = vi.fn(async () => ({ accessToken: 'fresh', expiresAt: Date.now() + 3_600_000 }));
    const { client, seen } = setup(() => json({ success: true, data: person(1) }), {
      auth: { type: 'oauth', accessToken: 'stale', expiresAt: new Date(Date.now() + 30_000), refresh },
    });
    await client.persons.get(1);
    expect(refresh).toHaveBeenCalledTimes(1); // within refreshAheadMs (60 s) of expiry
    expect(seen.map((r) => r.headers.get('authorization'))).toEqual(['Bearer fresh']);
    expect(client.authType).toBe('oauth');
    expect(client.burstLimit).toBe(80); // Lite, OAuth
  });

  it('OAuth: a refresh that fails is unauthorized, with the cause, and sends nothing', async () => {
    const { client, seen } = setup(() => json({ success: true, data: person(1) }), {
      auth: {
        type: 'oauth',
        accessToken: 'stale',
        expiresAt: Date.now() - 1,
        refresh: async () => {
          throw new Error('invalid_grant');
        },
      },
    });
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe('unauthorized');
    expect((error.cause as Error).message).toBe('invalid_grant');
    expect(seen).toHaveLength(0);
  });

  it('rejects bad options with a usage error', () => {
    const bad = [
      { auth: { type: 'api_token', token: '' }, plan: 'lite' },
      { auth: { type: 'oauth', accessToken: 'a' }, plan: 'lite' },
      { auth: { type: 'api_token', token: 't' }, plan: 'enterprise' },
      { auth: { type: 'api_token', token: 't' }, plan: 'lite', companyDomain: 'acme.pipedrive.com' },
      {
        auth: { type: 'oauth', accessToken: 'a', refresh: async () => ({ accessToken: 'b' }) },
        plan: 'lite',
        redis: { eval: async () => 0, evalsha: async () => 0 },
      },
    ];
    for (const options of bad) {
      let caught: unknown;
      try {
        pipedriveClient(options as unknown as PipedriveClientOptions);
      } catch (error) {
        caught = error;
      }
      expect(isPipedriveUsageError(caught)).toBe(true);
    }
  });
});

describe('pipedriveClient: persons', () => {
  it('lists every person across cursor pages with limit 500 and incremental parameters', async () => {
    const { client, seen } = setup((request) => {
      const cursor = new URL(request.url).searchParams.get('cursor');
      if (!cursor) return json({ success: true, data: [person(1), person(2)], additional_data: { next_cursor: 'c2' } });
      return json({ success: true, data: [person(3)], additional_data: { next_cursor: null } });
    });
    const ids: number[] = [];
    for await (const p of client.persons.changedSince(new Date('2026-01-01T10:20:00.123Z'))) ids.push(p.id);
    expect(ids).toEqual([1, 2, 3]);
    const first = new URL(seen[0]?.url ?? '');
    expect(first.searchParams.get('limit')).toBe('500');
    expect(first.searchParams.get('updated_since')).toBe('2026-01-01T10:20:00Z');
    expect(first.searchParams.get('sort_by')).toBe('update_time');
    expect(new URL(seen[1]?.url ?? '').searchParams.get('cursor')).toBe('c2');
  });

  it('keeps custom fields and unknown keys', async () => {
    const { client } = setup(() =>
      json({ success: true, data: person(7, { custom_fields: { abc123: 'ext-7' }, new_field: 1 }) }),
    );
    const p = await client.persons.get(7);
    expect(p.custom_fields).toEqual({ abc123: 'ext-7' });
    expect((p as Record<string, unknown>).new_field).toBe(1);
  });

  it('creates with POST and updates with PATCH, JSON bodies', async () => {
    const { client, seen } = setup(async (request) =>
      json({ success: true, data: person(9, (await request.json()) as Record<string, unknown>) }),
    );
    await client.persons.create({ name: 'Ada' });
    await client.persons.update(9, { name: 'Ada L.' });
    expect(seen.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      'POST /api/v2/persons',
      'PATCH /api/v2/persons/9',
    ]);
    expect(await seen[1]?.json()).toEqual({ name: 'Ada L.' });
  });

  it('rejects a limit above 500 before sending', async () => {
    const { client, seen } = setup(() => json({ success: true, data: [] }));
    const error = await rejection(client.persons.list({ limit: 501 }).next());
    expect(isPipedriveUsageError(error)).toBe(true);
    expect(seen).toHaveLength(0);
  });
});

describe('pipedriveClient: malformed answers', () => {
  it.each([
    ['data is not an array', { success: true, data: { oops: 1 }, additional_data: { next_cursor: null } }],
    ['next_cursor is missing on a full page', { success: true, data: [person(1)] }],
    ['next_cursor is a number', { success: true, data: [person(1)], additional_data: { next_cursor: 5 } }],
    ['a record without an id', { success: true, data: [{ name: 'x' }], additional_data: { next_cursor: null } }],
    ['no envelope', [person(1)]],
  ])('%s: malformed_response, never a silent end', async (_, body) => {
    const { client } = setup(() => json(body));
    const error = await rejection(
      (async () => {
        for await (const _p of client.persons.list()) {
          // drain
        }
      })(),
    );
    expect(error.kind).toBe('malformed_response');
  });

  it('a cursor that repeats is malformed, not an endless loop', async () => {
    const { client } = setup(() =>
      json({ success: true, data: [person(1)], additional_data: { next_cursor: 'same' } }),
    );
    const error = await rejection(
      (async () => {
        for await (const _p of client.persons.list()) {
          // drain
        }
      })(),
    );
    expect(error.kind).toBe('malformed_response');
  });

  it('a non-JSON 200 is malformed_response', async () => {
    const { client } = setup(() => new Response('<html>oops</html>', { status: 200 }));
    expect((await rejection(client.persons.get(1))).kind).toBe('malformed_response');
  });
});

describe('pipedriveClient: errors', () => {
  it.each([
    [402, { success: false, error: 'account not open' }, 'payment_required'],
    [403, { success: false, error: 'limit', code: 'feature_capping_deals_limit' }, 'forbidden'],
    [404, { success: false, error: 'not found' }, 'not_found'],
    [400, { success: false, error: 'bad' }, 'validation'],
    [422, { success: false, error: 'bad' }, 'validation'],
    [500, { success: false, error: 'boom' }, 'server'],
  ])('%d is %s', async (status, body, kind) => {
    const { client } = setup(() => json(body, status, { 'x-request-id': 'req-1' }), { attempts: 1 });
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe(kind);
    expect(error.requestId).toBe('req-1');
    if (status === 403) expect(error.pipedriveCode).toBe('feature_capping_deals_limit');
  });

  it('a 403 Cloudflare page is banned, and stops the token: later calls fail without a request', async () => {
    const { client, seen } = setup(
      () =>
        new Response('<!DOCTYPE html><html><title>Attention Required! | Cloudflare</title></html>', {
          status: 403,
          headers: { 'content-type': 'text/html', 'cf-ray': 'ray-1' },
        }),
      { banPauseMs: 60_000 },
    );
    const first = await rejection(client.persons.get(1));
    expect(first.kind).toBe('banned');
    expect(first.requestId).toBe('ray-1');
    const second = await rejection(client.persons.get(2));
    expect(second.kind).toBe('banned');
    expect(second.retryAt).toBeGreaterThan(Date.now());
    expect(seen).toHaveLength(1);
    expect(client.bannedUntil()).toBeGreaterThan(Date.now());
  });

  it('the ban lasts banPauseMs: then calls are sent again', async () => {
    vi.useFakeTimers();
    let banned = true;
    const { client, seen } = setup(
      () =>
        banned
          ? new Response('<html>Cloudflare</html>', { status: 403, headers: { 'content-type': 'text/html' } })
          : json({ success: true, data: person(1) }),
      { banPauseMs: 120_000 },
    );
    expect((await rejection(client.persons.get(1))).kind).toBe('banned');
    banned = false;
    await vi.advanceTimersByTimeAsync(119_000);
    expect((await rejection(client.persons.get(1))).kind).toBe('banned');
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_001);
    expect((await client.persons.get(1)).id).toBe(1);
    expect(client.bannedUntil()).toBe(0);
  });

  it('a POST that timed out is not sent again; one refused by the network is', async () => {
    let calls = 0;
    const { client } = setup(
      () => {
        calls++;
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } });
      },
      { limiter: false },
    );
    expect((await rejection(client.persons.create({ name: 'x' }))).kind).toBe('connection');
    expect(calls).toBe(1);
    calls = 0;
    const refused = setup(
      () => {
        calls++;
        if (calls === 1) throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
        return json({ success: true, data: person(5) });
      },
      { limiter: false },
    );
    expect((await refused.client.persons.create({ name: 'x' })).id).toBe(5);
    expect(calls).toBe(2);
  });

  it('a POST answered 429 is sent again after the pause (the 429 proves it was not processed)', async () => {
    let calls = 0;
    const { client } = setup(
      () => {
        calls++;
        return calls === 1
          ? json({ success: false, error: 'Too many requests' }, 429, { 'x-ratelimit-remaining': '0' })
          : json({ success: true, data: person(6) });
      },
      { windowMs: 50 },
    );
    expect((await client.persons.create({ name: 'x' })).id).toBe(6);
    expect(calls).toBe(2);
  });
});

describe('pipedriveClient: daily budget', () => {
  it('spends from the cost table, fails fast when spent with the reset time, and reports it', async () => {
    const events: unknown[] = [];
    const { client, seen } = setup(() => json({ success: true, data: person(1) }), {
      dailyBudget: 3,
      onEvent: (e) => events.push(e),
    });
    await client.persons.get(1); // 1
    await client.persons.get(1); // 2
    await client.persons.get(1); // 3
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe('daily_budget_spent');
    expect(error.retryAt).toBeGreaterThan(Date.now());
    expect(seen).toHaveLength(3);
    expect(client.budget()).toMatchObject({ limit: 3, used: 3, remaining: 0, source: 'estimate' });
    expect(events.some((e) => (e as { type: string }).type === 'pipedrive.budget')).toBe(true);
  });

  it('follows x-daily-ratelimit-token-remaining when Pipedrive sends it', async () => {
    const { client } = setup(() =>
      json({ success: true, data: person(1) }, 200, { 'x-daily-ratelimit-token-remaining': '100' }),
    );
    await client.persons.get(1);
    expect(client.budget()).toMatchObject({ limit: 30_000, used: 29_900, remaining: 100, source: 'header' });
  });

  it('a 429 that says the daily budget is spent is daily_budget_spent, not retried', async () => {
    let calls = 0;
    const { client } = setup(
      () => {
        calls++;
        return json({ success: false, error: 'daily limit' }, 429, { 'x-daily-ratelimit-token-remaining': '0' });
      },
      { windowMs: 20 },
    );
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe('daily_budget_spent');
    expect(calls).toBe(1);
    expect((await rejection(client.persons.get(1))).kind).toBe('daily_budget_spent');
    expect(calls).toBe(1);
  });
});

describe('pipedriveClient: daily budget (body code)', () => {
  it('a 429 with code daily_limit_exceeded is daily_budget_spent, and later calls are not sent', async () => {
    let calls = 0;
    const { client } = setup(
      () => {
        calls++;
        return json({ success: false, error: 'Daily limit', code: 'daily_limit_exceeded' }, 429);
      },
      { windowMs: 20 },
    );
    expect((await rejection(client.persons.get(1))).kind).toBe('daily_budget_spent');
    expect((await rejection(client.persons.get(1))).kind).toBe('daily_budget_spent');
    expect(calls).toBe(1);
  });
});

describe('pipedriveClient: burst window', () => {
  it('sends no more than the plan’s limit per window for an API token (Lite: 20 per 2 s)', async () => {
    vi.useFakeTimers();
    const sentAt: number[] = [];
    const { client } = setup(() => {
      sentAt.push(Date.now());
      return json({ success: true, data: person(1) });
    });
    const all = Promise.all(Array.from({ length: 50 }, () => client.persons.get(1)));
    await vi.advanceTimersByTimeAsync(10_000);
    await all;
    expect(sentAt).toHaveLength(50);
    for (const t of sentAt) expect(sentAt.filter((u) => u >= t && u < t + 2000).length).toBeLessThanOrEqual(20);
  });

  it('the Search API has its own bucket of 10 per window', async () => {
    vi.useFakeTimers();
    const sentAt: number[] = [];
    const { client } = setup(
      () => {
        sentAt.push(Date.now());
        return json({ success: true, data: { items: [] }, additional_data: { next_cursor: null } });
      },
      { plan: 'ultimate' },
    );
    const drain = async () => {
      for await (const _ of client.persons.search('ada')) {
        // none
      }
    };
    const all = Promise.all(Array.from({ length: 25 }, drain));
    await vi.advanceTimersByTimeAsync(10_000);
    await all;
    for (const t of sentAt) expect(sentAt.filter((u) => u >= t && u < t + 2000).length).toBeLessThanOrEqual(10);
  });

  it('after a 429 nothing is sent on the token until the window has passed', async () => {
    vi.useFakeTimers();
    const sentAt: number[] = [];
    let first = true;
    const { client } = setup(() => {
      sentAt.push(Date.now());
      if (first) {
        first = false;
        return json({ success: false, error: 'Too many' }, 429);
      }
      return json({ success: true, data: person(1) });
    });
    const a = client.persons.get(1);
    await vi.advanceTimersByTimeAsync(10); // a got its 429
    const rejectedAt = sentAt[0] as number;
    const b = client.persons.get(1);
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all([a, b]);
    expect(sentAt).toHaveLength(3);
    for (const t of sentAt.slice(1)) expect(t - rejectedAt).toBeGreaterThanOrEqual(2000);
  });
});

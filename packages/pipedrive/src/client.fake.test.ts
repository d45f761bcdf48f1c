import { describe, expect, it, vi } from 'vitest';
import { type PipedriveClientOptions, pipedriveClient } from './client';
import type { PipedriveError } from './errors';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedrive } from './testing/index';

function clientFor(fake: FakePipedrive, extra: Partial<PipedriveClientOptions> = {}) {
  return pipedriveClient({
    auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
    plan: 'lite',
    companyDomain: fake.companyDomain,
    fetch: fake.fetch,
    breaker: false,
    retryBudget: false,
    baseDelayMs: 0,
    maxDelayMs: 0,
    ...extra,
  });
}

async function rejection(promise: Promise<unknown>): Promise<PipedriveError> {
  try {
    await promise;
  } catch (error) {
    return error as PipedriveError;
  }
  throw new Error('expected a rejection');
}

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('pipedriveClient against the fake', () => {
  it('lists 1,200 persons in three pages of 500, every id once', async () => {
    const fake = createFakePipedrive({ rateLimit: false });
    fake.seed({ person: 1200 });
    const client = clientFor(fake);
    const pages = await drain(client.persons.pages());
    expect(pages.map((p) => p.items.length)).toEqual([500, 500, 200]);
    const ids = pages.flatMap((p) => p.items.map((x) => x.id));
    expect(new Set(ids).size).toBe(1200);
    expect(fake.requests.filter((r) => r.endpoint.includes('persons'))).toHaveLength(3);
  });

  it('changedSince reads only records updated since, in update order', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const fake = createFakePipedrive({ rateLimit: false, now: () => now });
    fake.seed({ person: 30 });
    now += 60_000;
    const since = new Date(now);
    now += 1_000;
    fake.edit('person', 5, { name: 'Changed Five' });
    now += 1_000;
    fake.edit('person', 2, { name: 'Changed Two' });
    const client = clientFor(fake);
    const changed = await drain(client.persons.changedSince(since));
    expect(changed.map((p) => p.id)).toEqual([5, 2]);
  });

  it('keeps the External ID custom field and upsertBy never duplicates', async () => {
    const fake = createFakePipedrive({ rateLimit: false });
    const external = fake.customFields.person[0]?.key as string;
    const client = clientFor(fake);
    const first = await client.persons.upsertBy({ field: external, value: 'crm-42' }, { name: 'Ada Lovelace' });
    expect(first.action).toBe('created');
    expect(first.record.custom_fields?.[external]).toBe('crm-42');
    const second = await client.persons.upsertBy({ field: external, value: 'crm-42' }, { name: 'Ada King' });
    expect(second).toMatchObject({ action: 'updated', record: { id: first.record.id, name: 'Ada King' } });
    expect(fake.records('person')).toHaveLength(1);
    expect(await client.persons.findBy({ field: external, value: 'crm-43' })).toBeUndefined();
  });

  it('OAuth against the fake: an expired token is refreshed once and the call replayed; new tokens handed over', async () => {
    const fake = createFakePipedrive({ rateLimit: false });
    fake.seed({ person: 3 });
    const issued = fake.issueOAuthTokens();
    const stored: string[] = [];
    let refreshes = 0;
    const client = clientFor(fake, {
      auth: {
        type: 'oauth',
        accessToken: issued.access_token,
        refreshToken: issued.refresh_token,
        refresh: async (current) => {
          refreshes++;
          const response = await fake.fetch('https://oauth.pipedrive.com/oauth/token', {
            method: 'POST',
            headers: {
              authorization: `Basic ${btoa('fake-client-id:fake-client-secret')}`,
              'content-type': 'application/x-www-form-urlencoded',
            },
            body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current.refreshToken ?? '' }),
          });
          const body = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number };
          return {
            accessToken: body.access_token,
            refreshToken: body.refresh_token,
            expiresAt: Date.now() + body.expires_in * 1000,
          };
        },
        onTokens: (tokens) => {
          stored.push(tokens.accessToken);
        },
      },
    });
    expect((await client.persons.get(1)).id).toBe(1);
    fake.expireAccessTokens();
    const again = await Promise.all([client.persons.get(2), client.persons.get(3)]);
    expect(again.map((p) => p.id)).toEqual([2, 3]);
    expect(refreshes).toBe(1);
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toBe(issued.access_token);
  });

  it('a bad token is unauthorized', async () => {
    const fake = createFakePipedrive();
    const client = clientFor(fake, { auth: { type: 'api_token', token: 'not-a-token' } });
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe('unauthorized');
    expect(error.status).toBe(401);
  });

  it('the daily budget follows the fake’s headers and stops calls before it is overdrawn', async () => {
    const fake = createFakePipedrive({ rateLimit: false, dailyBudget: 25 });
    fake.seed({ person: 3 });
    const client = clientFor(fake);
    await drain(client.persons.list()); // 10
    expect(client.budget()).toMatchObject({ limit: 25, remaining: 15, source: 'header' });
    await drain(client.persons.list()); // 20
    const error = await rejection(drain(client.persons.list()));
    expect(error.kind).toBe('daily_budget_spent');
    expect(error.retryAt).toBeGreaterThan(Date.now());
    expect(fake.stats().rateLimited).toBe(0); // stopped here, not by the fake
    await client.persons.get(1); // 1 token still fits
  });

  it('a token banned by the fake gets typed banned errors, and no request while the ban lasts', async () => {
    const fake = createFakePipedrive({ burst: { api_token: 2 }, ban: { strikes: 1, durationMs: 600_000 } });
    fake.seed({ person: 1 });
    // another process on the same token that ignores 429s earns the ban
    const rogue = clientFor(fake, { limiter: false, attempts: 1 });
    await Promise.allSettled(Array.from({ length: 6 }, () => rogue.persons.get(1)));
    const client = clientFor(fake, { banPauseMs: 60_000 });
    const error = await rejection(client.persons.get(1));
    expect(error.kind).toBe('banned');
    const sent = fake.requests.length;
    expect((await rejection(client.persons.get(1))).kind).toBe('banned');
    expect(fake.requests.length).toBe(sent);
  });

  it.each([
    ['missing_additional_data', 'malformed_response'],
    ['bad_json', 'malformed_response'],
  ] as const)('a %s page is %s', async (kind, expected) => {
    const fake = createFakePipedrive({ rateLimit: false });
    fake.seed({ person: 700 });
    fake.fault({ kind }, { times: 1, path: '/api/v2/persons' });
    const client = clientFor(fake);
    expect((await rejection(drain(client.persons.list()))).kind).toBe(expected);
  });
});

describe('pipedriveClient: limits learned from x-ratelimit-* headers', () => {
  it('a token whose real limit is below the table: 429s only in the first window, none after, every call done', async () => {
    vi.useFakeTimers();
    try {
      const fake = createFakePipedrive({ burst: { api_token: 5 }, ban: false, now: () => Date.now() });
      fake.seed({ person: 5 });
      const client = clientFor(fake, { attempts: 5 }); // Lite's table says 20
      const start = Date.now();
      const calls = Promise.all(Array.from({ length: 40 }, (_, i) => client.persons.get(1 + (i % 5))));
      await vi.advanceTimersByTimeAsync(60_000);
      expect(await calls).toHaveLength(40);
      const limited = fake.requests.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0); // the table was wrong for this token: the first window shows it
      for (const r of limited) expect(r.at - start).toBeLessThan(2000);
      const ok = fake.requests.filter((r) => r.status === 200).map((r) => r.at);
      for (const t of ok) expect(ok.filter((u) => u >= t && u < t + 2000).length).toBeLessThanOrEqual(5);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('pipedriveClient: v1 offset pages', () => {
  it('walks /v1/recents by start/next_start, and a page without pagination is malformed', async () => {
    const fake = createFakePipedrive({ rateLimit: false });
    fake.seed({ person: 250 });
    const client = clientFor(fake);
    const query = { since_timestamp: '2000-01-01 00:00:00', items: 'person', limit: 100 };
    const pages = await drain(client.offsetPages<{ id: number }>('/v1/recents', query));
    expect(pages.map((p) => p.items.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.nextStart)).toEqual([100, 200, undefined]);
    expect(new Set(pages.flatMap((p) => p.items.map((i) => i.id))).size).toBe(250);
    fake.fault({ kind: 'missing_additional_data' }, { times: 1, path: '/api/v1/recents' });
    expect((await rejection(drain(client.offsetPages('/v1/recents', query)))).kind).toBe('malformed_response');
  });
});

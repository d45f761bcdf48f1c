import { describe, expect, it } from 'vitest';
import { pipedriveBurstLimit } from '../limits';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedriveOptions } from './index';

const TOKEN = { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN };
const API = 'https://api.pipedrive.com';

function clocked(options: FakePipedriveOptions = {}) {
  let now = Date.parse('2026-12-07T10:00:00Z');
  const fake = createFakePipedrive({ now: () => now, ...options });
  return {
    fake,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const hit = (fake: ReturnType<typeof createFakePipedrive>, path = '/api/v2/persons', headers = TOKEN) =>
  fake.fetch(`${API}${path}`, { headers });

describe('fake Pipedrive: burst window', () => {
  it('Lite + API token: 20 per rolling 2 s, then 429 with x-ratelimit-* headers; a slot frees when the oldest leaves', async () => {
    const { fake, advance } = clocked();
    const limit = pipedriveBurstLimit('lite', 'api_token').requests;
    const statuses: number[] = [];
    for (let i = 0; i < limit; i++) {
      const res = await hit(fake);
      statuses.push(res.status);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(limit - i - 1));
      advance(50);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const limited = await hit(fake);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('20');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ success: false, data: null });
    // the first request arrived at t=0; at t=2000 it leaves the window
    advance(2000 - limit * 50 - 1);
    expect((await hit(fake)).status).toBe(429);
    advance(1);
    expect((await hit(fake)).status).toBe(200);
    expect((await hit(fake)).status).toBe(429);
    const stats = fake.stats();
    expect(stats.rateLimited).toBe(3);
    expect(stats.byToken[FAKE_PIPEDRIVE_API_TOKEN]).toMatchObject({ requests: 24, rateLimited: 3 });
    expect(stats.byEndpoint['GET /api/v2/persons']).toMatchObject({ requests: 24, rateLimited: 3 });
  });

  it('the limit follows plan and auth; OAuth tokens of one grant share a window', async () => {
    const { fake } = clocked({ plan: 'growth', ban: false });
    const tokens = fake.issueOAuthTokens();
    const bearer = { authorization: `Bearer ${tokens.access_token}` } as unknown as typeof TOKEN;
    let ok = 0;
    for (let i = 0; i < 200; i++) if ((await hit(fake, '/api/v2/persons', bearer)).status === 200) ok++;
    expect(ok).toBe(160);
    let tokenOk = 0;
    for (let i = 0; i < 60; i++) if ((await hit(fake)).status === 200) tokenOk++;
    expect(tokenOk).toBe(40);
  });

  it('search has its own 10 per 2 s bucket, and counts in the general window too', async () => {
    const { fake, advance } = clocked();
    fake.seed({ person: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await hit(fake, '/api/v2/persons/search?term=example')).status);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses[10]).toBe(429);
    advance(2000);
    const res = await hit(fake, '/api/v2/persons/search?term=example');
    expect(res.headers.get('x-ratelimit-limit')).toBe('10');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('9');
    // that search also took one of the 20 general slots: 19 more plain requests pass, the 20th does not
    for (let i = 0; i < 19; i++) expect((await hit(fake)).status).toBe(200);
    expect((await hit(fake)).status).toBe(429);
  });

  it('x-ratelimit-reset: seconds (rounded up) until the oldest request in the window leaves it', async () => {
    const { fake, advance } = clocked();
    expect((await hit(fake)).headers.get('x-ratelimit-reset')).toBe('2');
    advance(1500);
    expect((await hit(fake)).headers.get('x-ratelimit-reset')).toBe('1');
    advance(600); // the first request left; the second (t=1500) is now the oldest
    expect((await hit(fake)).headers.get('x-ratelimit-reset')).toBe('2');
  });

  it('a compressed window keeps the shape', async () => {
    const { fake, advance } = clocked({ windowMs: 200 });
    for (let i = 0; i < 20; i++) expect((await hit(fake)).status).toBe(200);
    expect((await hit(fake)).status).toBe(429);
    advance(200);
    expect((await hit(fake)).status).toBe(200);
  });
});

describe('fake Pipedrive: 403 ban', () => {
  it('a token that keeps sending after a 429 gets the Cloudflare HTML page for the ban duration; a patient one does not', async () => {
    const { fake, advance } = clocked({ ban: { strikes: 3, durationMs: 60_000 } });
    for (let i = 0; i < 20; i++) await hit(fake);
    expect((await hit(fake)).status).toBe(429); // limited, not a strike
    expect((await hit(fake)).status).toBe(429); // strike 1
    expect((await hit(fake)).status).toBe(429); // strike 2
    expect((await hit(fake)).status).toBe(429); // strike 3: banned from now
    const banned = await hit(fake);
    expect(banned.status).toBe(403);
    expect(banned.headers.get('content-type')).toContain('text/html');
    expect(await banned.text()).toContain('Cloudflare');
    advance(59_999);
    expect((await hit(fake)).status).toBe(403);
    advance(1);
    expect((await hit(fake)).status).toBe(200);
    expect(fake.stats()).toMatchObject({ bans: 1, banned: 2 });

    const patient = clocked({ ban: { strikes: 1, durationMs: 60_000 } });
    for (let i = 0; i < 20; i++) await hit(patient.fake);
    const first = await hit(patient.fake);
    expect(first.status).toBe(429);
    patient.advance(Number(first.headers.get('x-ratelimit-reset')) * 1000);
    expect((await hit(patient.fake)).status).toBe(200);
    expect(patient.fake.stats().bans).toBe(0);
  });
});

describe('fake Pipedrive: daily budget', () => {
  it('charges v2 half of v1 per kind, reports x-daily-ratelimit-token-remaining, 429s when spent, resets at midnight', async () => {
    const { fake, advance } = clocked({ rateLimit: false, dailyBudget: 100 });
    fake.seed({ person: 1 });
    const list = await hit(fake); // v2 list: 10
    expect(list.headers.get('x-daily-ratelimit-token-remaining')).toBe('90');
    const one = await hit(fake, '/api/v2/persons/1'); // v2 get: 1
    expect(one.headers.get('x-daily-ratelimit-token-remaining')).toBe('89');
    const v1 = await hit(fake, '/v1/users'); // v1 list: 20
    expect(v1.headers.get('x-daily-ratelimit-token-remaining')).toBe('69');
    const search = await hit(fake, '/api/v2/persons/search?term=example'); // v2 search: 20
    expect(search.headers.get('x-daily-ratelimit-token-remaining')).toBe('49');
    for (let i = 0; i < 4; i++) expect((await hit(fake)).status).toBe(200);
    const spent = await hit(fake);
    expect(spent.status).toBe(429);
    expect(spent.headers.get('x-daily-ratelimit-token-remaining')).toBe('9');
    expect(await spent.json()).toMatchObject({ success: false, code: 'daily_limit_exceeded' });
    expect(fake.budgetRemaining()).toBe(9);
    advance(14 * 3_600_000); // past midnight UTC
    expect((await hit(fake)).headers.get('x-daily-ratelimit-token-remaining')).toBe('90');
  });

  it('dailyHeaders: false omits the headers; a share sends them on about that share of answers', async () => {
    const off = clocked({ rateLimit: false, dailyHeaders: false });
    expect((await hit(off.fake)).headers.get('x-daily-ratelimit-token-remaining')).toBeNull();
    const some = clocked({ rateLimit: false, dailyHeaders: 0.5 });
    let present = 0;
    for (let i = 0; i < 200; i++)
      if ((await hit(some.fake)).headers.has('x-daily-ratelimit-token-remaining')) present++;
    expect(present).toBeGreaterThan(60);
    expect(present).toBeLessThan(140);
  });

  it('the default budget is 30,000 × plan multiplier × seats', async () => {
    expect(createFakePipedrive({ plan: 'premium', seats: 3 }).budgetRemaining()).toBe(450_000);
    expect(createFakePipedrive().budgetRemaining()).toBe(30_000);
  });
});

describe('fake Pipedrive: faults', () => {
  it('bad JSON, missing additional_data, 503, connection drop and hang, each for the next matching request', async () => {
    const { fake } = clocked({ rateLimit: false });
    fake.fault({ kind: 'bad_json' });
    await expect((await hit(fake)).json()).rejects.toThrow();
    fake.fault({ kind: 'missing_additional_data' }, { path: '/api/v2/persons' });
    expect(await (await hit(fake)).json()).toEqual({ success: true, data: [] });
    fake.fault({ kind: 'status', status: 503 }, { times: 2 });
    expect([(await hit(fake)).status, (await hit(fake)).status, (await hit(fake)).status]).toEqual([503, 503, 200]);
    fake.fault({ kind: 'connection' });
    await expect(hit(fake)).rejects.toThrow('fetch failed');
    fake.fault({ kind: 'hang' });
    const controller = new AbortController();
    const pending = fake.fetch(`${API}/api/v2/persons`, { headers: TOKEN, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow();
    fake.fault({ kind: 'status', status: 500 }, { times: Number.POSITIVE_INFINITY });
    expect((await hit(fake)).status).toBe(500);
    fake.clearFaults();
    expect((await hit(fake)).status).toBe(200);
  });
});

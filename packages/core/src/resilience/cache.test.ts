import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { CACHE_HEADER, cache, cacheStatus, DEFAULT_CREDENTIAL_HEADERS } from './cache';
import { memoryCache } from './cache-memory';
import { sqlCache } from './cache-sql';
import { circuitBreaker } from './circuit-breaker';
import { isResilienceError, type ResilienceError } from './errors';
import { resilientFetch } from './resilient-fetch';
import { recorder, settle, useMsw } from './test-support';

const server = useMsw();
const URL_A = 'https://catalog.test/products/1';

/** A provider whose answer the test switches: a JSON body, a status, or a dropped connection. */
function provider() {
  const state = { mode: 'ok' as 'ok' | 'error' | number, version: 1, hits: 0 };
  server.use(
    http.all(URL_A, () => {
      state.hits++;
      if (state.mode === 'ok') return HttpResponse.json({ version: state.version });
      if (state.mode === 'error') return HttpResponse.error();
      return new HttpResponse('down', { status: state.mode });
    }),
  );
  return state;
}

describe('cache (stale-if-error)', () => {
  it('serves the last good response, marked stale, when the provider answers 503', async () => {
    const p = provider();
    const rec = recorder();
    const c = cache({ onEvent: rec.onEvent });
    const f = c.wrap((i, n) => fetch(i, n));
    const fresh = await f(URL_A);
    expect(await fresh.json()).toEqual({ version: 1 });
    expect(cacheStatus(fresh)).toBeUndefined();
    await c.flush();

    p.mode = 503;
    const stale = await f(URL_A);
    expect(stale.status).toBe(200);
    expect(await stale.json()).toEqual({ version: 1 });
    expect(stale.headers.get(CACHE_HEADER)).toBe('stale');
    expect(stale.headers.get('content-type')).toBe('application/json');
    expect(cacheStatus(stale)).toBe('stale');
    expect(rec.events).toMatchObject([{ type: 'cache.stale', key: 'catalog.test', error: 'HTTP 503' }]);
  });

  it('serves stale on a dropped connection and when the breaker is open', async () => {
    const p = provider();
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const c = cache();
    const f = resilientFetch({ retry: false, breaker: breakers, cache: c });
    await (await f(URL_A)).json();
    await c.flush();
    p.mode = 'error';
    expect(cacheStatus(await f(URL_A))).toBe('stale');
    expect(cacheStatus(await f(URL_A))).toBe('stale');
    expect(breakers.state('catalog.test')).toBe('open');
    const hits = p.hits;
    const served = await f(URL_A); // the breaker refuses; the cache answers
    expect(cacheStatus(served)).toBe('stale');
    expect(p.hits).toBe(hits);
    breakers.close();
  });

  it("hands back the provider's failed response when nothing is cached, and reports the miss", async () => {
    const p = provider();
    p.mode = 502;
    const rec = recorder();
    const f = cache({ onEvent: rec.onEvent }).wrap((i, n) => fetch(i, n));
    const res = await f(URL_A);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('down');
    expect(cacheStatus(res)).toBeUndefined();
    expect(rec.events).toMatchObject([{ type: 'cache.miss', key: 'catalog.test', error: 'HTTP 502' }]);
  });

  it('surfaces retry_after_too_long with the 429 response when nothing is cached', async () => {
    server.use(
      http.get(URL_A, () => new HttpResponse('slow down', { status: 429, headers: { 'retry-after': '120' } })),
    );
    const rec = recorder();
    const f = resilientFetch({ retry: { maxRetryAfterMs: 1_000 }, breaker: false, cache: {}, onEvent: rec.onEvent });
    const { error } = await settle(f(URL_A));
    expect(isResilienceError(error)).toBe(true);
    const e = error as ResilienceError;
    expect(e.code).toBe('retry_after_too_long');
    expect(e.waitMs).toBe(120_000);
    expect(e.response?.status).toBe(429);
    expect(await e.response?.text()).toBe('slow down');
    expect(e.message).not.toContain('no response');
    expect(rec.events.find((ev) => ev.type === 'cache.miss')).toMatchObject({ error: e });
  });

  it('hands back the error itself (a dropped connection) when nothing is cached', async () => {
    const p = provider();
    p.mode = 'error';
    const { error } = await settle(cache().wrap((i, n) => fetch(i, n))(URL_A));
    expect(error).toBeInstanceOf(TypeError);
  });

  it('stops serving an entry older than ttl + maxStale: the failure goes through', async () => {
    vi.useFakeTimers();
    const p = provider();
    const c = cache({ maxStaleMs: 60_000 });
    const f = c.wrap((i, n) => fetch(i, n));
    await f(URL_A);
    await c.flush();
    p.mode = 500;
    await vi.advanceTimersByTimeAsync(59_000);
    const stale = await f(URL_A);
    expect(stale.headers.get('age')).toBe('59');
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await f(URL_A)).status).toBe(500);
  });

  it('answers from the cache without calling the provider while the entry is fresh', async () => {
    vi.useFakeTimers();
    const p = provider();
    const c = cache({ ttlMs: 10_000 });
    const f = c.wrap((i, n) => fetch(i, n));
    await f(URL_A);
    await c.flush();
    p.version = 2;
    const hit = await f(URL_A);
    expect(cacheStatus(hit)).toBe('hit');
    expect(await hit.json()).toEqual({ version: 1 });
    expect(p.hits).toBe(1);
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await (await f(URL_A)).json()).toEqual({ version: 2 });
    expect(p.hits).toBe(2);
  });

  it('no-cache, on the request or the stored response, skips the fresh hit but still stands in for a failure', async () => {
    let control = 'no-cache';
    let state: 'ok' | 'down' = 'ok';
    let hits = 0;
    server.use(
      http.get(URL_A, () => {
        hits++;
        return state === 'ok'
          ? HttpResponse.json({ hits }, { headers: { 'cache-control': control } })
          : new HttpResponse('down', { status: 503 });
      }),
    );
    const c = cache({ ttlMs: 60_000, rewriteAfterMs: 0 });
    const f = c.wrap((i, n) => fetch(i, n));
    await f(URL_A);
    await c.flush();
    expect(cacheStatus(await f(URL_A))).toBeUndefined(); // stored with no-cache: not a fresh hit
    expect(hits).toBe(2);
    control = 'max-age=60';
    await c.flush();
    await f(URL_A);
    await c.flush();
    expect(cacheStatus(await f(URL_A))).toBe('hit');
    expect(cacheStatus(await f(URL_A, { headers: { 'cache-control': 'no-cache' } }))).toBeUndefined();
    state = 'down';
    expect(cacheStatus(await f(URL_A, { headers: { 'cache-control': 'no-cache' } }))).toBe('stale');
  });

  it.each([
    ['X-API-Key', (tenant: string) => ({ 'x-api-key': `key-of-${tenant}` })],
    ['Cookie', (tenant: string) => ({ cookie: `session=${tenant}` })],
    ['Authorization', (tenant: string) => ({ authorization: `Bearer ${tenant}` })],
  ])("tenant B never receives tenant A's body in an outage (%s)", async (_name, credentials) => {
    let up = true;
    server.use(
      http.get(URL_A, ({ request }) => {
        if (!up) return new HttpResponse('down', { status: 503 });
        return HttpResponse.json({ for: [...request.headers].filter(([n]) => n !== 'accept').map(([, v]) => v) });
      }),
    );
    const c = cache();
    const f = resilientFetch({ retry: false, breaker: false, cache: c });
    expect(await (await f(URL_A, { headers: credentials('a') })).json()).toMatchObject({
      for: expect.arrayContaining([expect.stringContaining('a')]),
    });
    await c.flush();
    up = false;
    const a = await f(URL_A, { headers: credentials('a') });
    expect(cacheStatus(a)).toBe('stale');
    const b = await f(URL_A, { headers: credentials('b') });
    expect(cacheStatus(b)).toBeUndefined();
    expect(b.status).toBe(503);
    expect(await b.text()).toBe('down');
    const anonymous = await f(URL_A);
    expect(anonymous.status).toBe(503);
  });

  it('keys by a hash of the credentials, never the values, and never stores Set-Cookie', async () => {
    server.use(
      http.get(URL_A, () => HttpResponse.json({ ok: true }, { headers: { 'set-cookie': 'session=tenant-a-session' } })),
    );
    const store = memoryCache();
    const c = cache({ store });
    const init = { headers: { 'x-api-key': 'secret-key-of-tenant-a' } };
    await c.wrap((i, n) => fetch(i, n))(URL_A, init);
    await c.flush();
    const key = await c.keyOf(URL_A, init);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(await c.keyOf(URL_A, { headers: { 'x-api-key': 'secret-key-of-tenant-b' } }));
    expect(key).not.toBe(await c.keyOf(URL_A));
    const entry = await store.get(key as string);
    expect(entry?.headers.map(([name]) => name)).not.toContain('set-cookie');
    expect(JSON.stringify(entry)).not.toContain('secret-key');
  });

  it('takes its credential headers from the options: a header of your own, or none', async () => {
    const p = provider();
    const byTenant = cache({ credentialHeaders: [...DEFAULT_CREDENTIAL_HEADERS, 'X-Tenant'] });
    const f = byTenant.wrap((i, n) => fetch(i, n));
    await f(URL_A, { headers: { 'x-tenant': 'a' } });
    await byTenant.flush();
    p.mode = 503;
    expect(cacheStatus(await f(URL_A, { headers: { 'x-tenant': 'a' } }))).toBe('stale');
    expect((await f(URL_A, { headers: { 'x-tenant': 'b' } })).status).toBe(503);

    const shared = cache({ credentialHeaders: [] });
    expect(await shared.keyOf(URL_A, { headers: { 'x-api-key': 'a' } })).toBe(await shared.keyOf(URL_A));
  });

  it('honours Vary: a request with other values for the varied headers misses', async () => {
    let up = true;
    server.use(
      http.get(URL_A, ({ request }) =>
        up
          ? HttpResponse.json(
              { lang: request.headers.get('accept-language') },
              { headers: { vary: 'Accept-Language' } },
            )
          : new HttpResponse('down', { status: 503 }),
      ),
    );
    const c = cache();
    const f = c.wrap((i, n) => fetch(i, n));
    await f(URL_A, { headers: { 'accept-language': 'en' } });
    await c.flush();
    up = false;
    const en = await f(URL_A, { headers: { 'accept-language': 'en' } });
    expect(await en.json()).toEqual({ lang: 'en' });
    expect(cacheStatus(en)).toBe('stale');
    expect((await f(URL_A, { headers: { 'accept-language': 'fr' } })).status).toBe(503);
    expect((await f(URL_A)).status).toBe(503);
  });

  it('never stores Vary: *, and stores private responses only under a credential', async () => {
    const store = memoryCache();
    server.use(
      http.get(URL_A, ({ request }) =>
        request.headers.get('x-kind') === 'vary-star'
          ? HttpResponse.json({}, { headers: { vary: '*' } })
          : HttpResponse.json({}, { headers: { 'cache-control': 'private, max-age=60' } }),
      ),
    );
    const c = cache({ store });
    const f = c.wrap((i, n) => fetch(i, n));
    await f(URL_A, { headers: { 'x-kind': 'vary-star' } });
    await f(`${URL_A}?anonymous`);
    await c.flush();
    expect(store.size).toBe(0);
    await f(URL_A, { headers: { authorization: 'Bearer a' } });
    await c.flush();
    expect(store.size).toBe(1);
    expect(await store.get((await c.keyOf(URL_A, { headers: { authorization: 'Bearer a' } })) as string)).toBeDefined();
  });

  it('skips Range requests and 206 responses', async () => {
    const store = memoryCache();
    server.use(
      http.get(URL_A, ({ request }) =>
        request.headers.get('range') !== null || new URL(request.url).search === '?partial'
          ? new HttpResponse('part', { status: 206, headers: { 'content-range': 'bytes 0-3/10' } })
          : HttpResponse.json({ whole: true }),
      ),
    );
    const c = cache({ store });
    const f = c.wrap((i, n) => fetch(i, n));
    expect(await c.keyOf(URL_A, { headers: { range: 'bytes=0-3' } })).toBeUndefined();
    await f(URL_A);
    await c.flush();
    expect(store.size).toBe(1);
    // a Range request is neither answered from the whole entry nor stored
    expect((await f(URL_A, { headers: { range: 'bytes=0-3' } })).status).toBe(206);
    await f(`${URL_A}?partial`);
    await c.flush();
    expect(store.size).toBe(1);
  });

  it("rejects with the signal's reason when the caller aborts, though a stale entry waits", async () => {
    const p = provider();
    const c = cache();
    await c.wrap((i, n) => fetch(i, n))(URL_A);
    await c.flush();
    p.mode = 503;
    // a provider that answers only when aborted
    const hanging = (_input: unknown, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const caller = new AbortController();
    const pending = settle(c.wrap(hanging)(URL_A, { signal: caller.signal }));
    const reason = new Error('the user left');
    caller.abort(reason);
    expect((await pending).error).toBe(reason);
    const already = await settle(c.wrap((i, n) => fetch(i, n))(URL_A, { signal: AbortSignal.abort() }));
    expect((already.error as Error).name).toBe('AbortError');
  });

  it('rejects at once when the caller aborts while a slow store is read', async () => {
    const p = provider();
    p.mode = 503;
    const slow = {
      get: () => new Promise<undefined>(() => {}), // a store that never answers (e.g. Redis gone)
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    };
    const caller = new AbortController();
    const pending = settle(cache({ store: slow }).wrap((i, n) => fetch(i, n))(URL_A, { signal: caller.signal }));
    await vi.waitFor(() => expect(p.hits).toBe(1));
    caller.abort();
    expect(((await pending).error as Error).name).toBe('AbortError');
  });

  it('stores the decoded body without the headers that described its transfer', async () => {
    server.use(
      http.get(URL_A, () =>
        HttpResponse.json({ ok: true }, { headers: { 'content-encoding': 'identity', 'content-length': '11' } }),
      ),
    );
    const store = memoryCache();
    const c = cache({ store });
    await c.wrap((i, n) => fetch(i, n))(URL_A);
    await c.flush();
    const names = (await store.get((await c.keyOf(URL_A)) as string))?.headers.map(([name]) => name);
    expect(names).toContain('content-type');
    expect(names).not.toContain('content-encoding');
    expect(names).not.toContain('content-length');
  });

  it('leaves POST requests, no-store requests and no-store responses alone', async () => {
    const store = memoryCache();
    server.use(
      http.post(URL_A, () => new HttpResponse('created', { status: 201 })),
      http.get(URL_A, ({ request }) =>
        request.headers.get('cache-control') === 'no-store'
          ? HttpResponse.json({})
          : new HttpResponse('secret', { headers: { 'cache-control': 'private, no-store' } }),
      ),
    );
    const c = cache({ store });
    const f = c.wrap((i, n) => fetch(i, n));
    expect((await f(URL_A, { method: 'POST' })).status).toBe(201);
    await f(URL_A, { headers: { cookie: 'session=a' } });
    await f(URL_A, { headers: { 'cache-control': 'no-store' } });
    await c.flush();
    expect(store.size).toBe(0);
  });

  it('serves stale from a SQL store written by another process (a new cache over the same table)', async () => {
    const db = await createPGlite();
    try {
      await migrate(db, { modules: ['cache'] });
      const p = provider();
      const first = cache({ store: sqlCache(db) });
      await first.wrap((i, n) => fetch(i, n))(URL_A);
      await first.flush();
      p.mode = 503;
      const restarted = cache({ store: sqlCache(db) }).wrap((i, n) => fetch(i, n));
      const res = await restarted(URL_A);
      expect(cacheStatus(res)).toBe('stale');
      expect(await res.json()).toEqual({ version: 1 });
    } finally {
      await db.close();
    }
  });

  it('treats a failing store as a miss, never a crash', async () => {
    const p = provider();
    p.mode = 503;
    const broken = {
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
      delete: () => Promise.resolve(),
    };
    const res = await cache({ store: broken }).wrap((i, n) => fetch(i, n))(URL_A);
    expect(res.status).toBe(503);
  });

  it.each([
    [{ ttlMs: -1 }, 'ttlMs'],
    [{ maxStaleMs: Number.NaN }, 'maxStaleMs'],
    [{ key: 'x' }, 'key'],
    [{ credentialHeaders: 'x-api-key' }, 'credentialHeaders'],
    [{ credentialHeaders: ['x api key'] }, 'credentialHeaders'],
    [{ store: {} }, 'store'],
    [null, 'options'],
  ])('rejects bad options %j with invalid_options', (options, field) => {
    expect(() => cache(options as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => cache(options as never)).toThrow(new RegExp(field));
  });
});

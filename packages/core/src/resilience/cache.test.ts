import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { CACHE_HEADER, cache, cacheStatus } from './cache';
import { memoryCache } from './cache-memory';
import { sqlCache } from './cache-sql';
import { circuitBreaker } from './circuit-breaker';
import type { ResilienceError } from './errors';
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

  it('fails with no_cached_value when nothing is cached', async () => {
    const p = provider();
    p.mode = 502;
    const rec = recorder();
    const f = cache({ onEvent: rec.onEvent }).wrap((i, n) => fetch(i, n));
    const { error } = await settle(f(URL_A));
    expect((error as ResilienceError).code).toBe('no_cached_value');
    expect((error as ResilienceError).response?.status).toBe(502);
    expect(rec.types()).toEqual(['cache.miss']);
  });

  it('fails with no_cached_value once the entry is older than ttl + maxStale', async () => {
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
    expect(((await settle(f(URL_A))).error as ResilienceError).code).toBe('no_cached_value');
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

  it('does not cache requests with credentials unless a key function partitions them', async () => {
    const p = provider();
    const store = memoryCache();
    const plain = cache({ store });
    await plain.wrap((i, n) => fetch(i, n))(URL_A, { headers: { authorization: 'Bearer tenant-a' } });
    await plain.flush();
    expect(store.size).toBe(0);

    const byTenant = cache({ store, key: (r) => `${r.header('x-tenant')} ${r.url}` });
    const f = byTenant.wrap((i, n) => fetch(i, n));
    await f(URL_A, { headers: { authorization: 'Bearer a', 'x-tenant': 'a' } });
    await byTenant.flush();
    p.mode = 503;
    expect(cacheStatus(await f(URL_A, { headers: { authorization: 'Bearer a', 'x-tenant': 'a' } }))).toBe('stale');
    const other = await settle(f(URL_A, { headers: { authorization: 'Bearer b', 'x-tenant': 'b' } }));
    expect((other.error as ResilienceError).code).toBe('no_cached_value');
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
    const names = (await store.get(`GET ${URL_A}`))?.headers.map(([name]) => name);
    expect(names).toContain('content-type');
    expect(names).not.toContain('content-encoding');
    expect(names).not.toContain('content-length');
  });

  it('leaves POST requests and no-store responses alone', async () => {
    const store = memoryCache();
    server.use(
      http.post(URL_A, () => new HttpResponse('created', { status: 201 })),
      http.get(URL_A, () => new HttpResponse('secret', { headers: { 'cache-control': 'no-store' } })),
    );
    const c = cache({ store });
    const f = c.wrap((i, n) => fetch(i, n));
    expect((await f(URL_A, { method: 'POST' })).status).toBe(201);
    await f(URL_A);
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
    const { error } = await settle(cache({ store: broken }).wrap((i, n) => fetch(i, n))(URL_A));
    expect((error as ResilienceError).code).toBe('no_cached_value');
  });

  it.each([
    [{ ttlMs: -1 }, 'ttlMs'],
    [{ maxStaleMs: Number.NaN }, 'maxStaleMs'],
    [{ key: 'x' }, 'key'],
    [{ store: {} }, 'store'],
    [null, 'options'],
  ])('rejects bad options %j with invalid_options', (options, field) => {
    expect(() => cache(options as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => cache(options as never)).toThrow(new RegExp(field));
  });
});

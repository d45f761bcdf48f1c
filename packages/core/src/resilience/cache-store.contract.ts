/**
 * The behaviour every {@link CacheStore} must show, run against each driver.
 * @internal
 */
import { beforeAll, expect, it, vi } from 'vitest';
import { cache } from './cache';
import type { CachedResponse, CacheStore } from './cache-store';

function entry(body: string, storedAt = Date.now()): CachedResponse {
  return {
    status: 200,
    statusText: 'OK',
    headers: [
      ['content-type', 'application/json'],
      ['x-multi', 'a, b'],
    ],
    body: new TextEncoder().encode(body),
    storedAt,
    variant: '',
  };
}

/** Runs the contract; `open` returns a store with a fresh namespace. */
export function cacheStoreContract(open: () => Promise<CacheStore>) {
  let store: CacheStore;
  beforeAll(async () => {
    store = await open();
  });

  it('returns undefined for a key never set', async () => {
    expect(await store.get('missing')).toBeUndefined();
  });

  it('round-trips status, headers, binary body, storedAt and variant', async () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255, 10, 13]);
    const e: CachedResponse = {
      ...entry(''),
      status: 203,
      statusText: 'Non-Authoritative',
      headers: [['vary', 'Accept-Language']],
      body: bytes,
      storedAt: 1_700_000_000_123,
      variant: 'a'.repeat(64),
    };
    await store.set('bin', e, 60_000);
    const got = await store.get('bin');
    expect(got?.status).toBe(203);
    expect(got?.statusText).toBe('Non-Authoritative');
    expect(got?.headers).toEqual(e.headers);
    expect([...(got?.body ?? [])]).toEqual([...bytes]);
    expect(got?.storedAt).toBe(1_700_000_000_123);
    expect(got?.variant).toBe('a'.repeat(64));
  });

  it('replaces the variant with the entry: the last response stored under a key decides what matches', async () => {
    await store.set(
      'varied',
      { ...entry('fr'), headers: [['vary', 'accept-language']], variant: 'f'.repeat(64) },
      60_000,
    );
    await store.set('varied', { ...entry('plain'), variant: '' }, 60_000);
    const got = await store.get('varied');
    expect(got?.variant).toBe('');
    expect(got?.headers).toEqual(entry('').headers);
  });

  it('overwrites an entry under the same key', async () => {
    await store.set('k', entry('{"v":1}'), 60_000);
    await store.set('k', entry('{"v":2}'), 60_000);
    expect(new TextDecoder().decode((await store.get('k'))?.body)).toBe('{"v":2}');
  });

  it('keeps keys apart, and deletes one', async () => {
    await store.set('a', entry('A'), 60_000);
    await store.set('b', entry('B'), 60_000);
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
    expect(new TextDecoder().decode((await store.get('b'))?.body)).toBe('B');
    await store.delete('never-there'); // no error
  });

  it('stops returning an entry once its retention has passed', async () => {
    await store.set('short', entry('S'), 50);
    expect(await store.get('short')).toBeDefined();
    await vi.waitFor(async () => expect(await store.get('short')).toBeUndefined(), { timeout: 2_000, interval: 20 });
  });

  it('keeps keys with odd characters apart', async () => {
    await store.set('GET https://x.test/a?q=1 2', entry('1'), 60_000);
    await store.set("GET https://x.test/a?q='2'", entry('2'), 60_000);
    expect(new TextDecoder().decode((await store.get('GET https://x.test/a?q=1 2'))?.body)).toBe('1');
    expect(new TextDecoder().decode((await store.get("GET https://x.test/a?q='2'"))?.body)).toBe('2');
  });

  it('keeps credentials and Vary variants apart when a cache runs over it, and holds no credential', async () => {
    const c = cache({ store });
    let up = true;
    const provider = async (_input: unknown, init?: RequestInit) => {
      const sent = new Headers(init?.headers);
      if (!up) return new Response('down', { status: 503 });
      return new Response(`for ${sent.get('x-api-key')} in ${sent.get('accept-language')}`, {
        headers: { vary: 'Accept-Language', 'set-cookie': 'session=of-tenant-a' },
      });
    };
    const f = c.wrap(provider);
    const url = `https://contract.test/items/${crypto.randomUUID()}`; // stores are shared between runs
    const a = { headers: { 'x-api-key': 'key-of-tenant-a', 'accept-language': 'en' } };
    await f(url, a);
    await c.flush();
    up = false;
    const stale = await f(url, a);
    expect(await stale.text()).toBe('for key-of-tenant-a in en');
    expect(stale.headers.get('set-cookie')).toBeNull();
    const b = await f(url, { headers: { 'x-api-key': 'key-of-tenant-b', 'accept-language': 'en' } });
    expect(b.status).toBe(503);
    const otherLanguage = await f(url, { headers: { 'x-api-key': 'key-of-tenant-a', 'accept-language': 'fr' } });
    expect(otherLanguage.status).toBe(503);

    const key = (await c.keyOf(url, a)) as string;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const stored = await store.get(key);
    expect(stored?.variant).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored?.headers)).not.toContain('tenant-a');
  });
}

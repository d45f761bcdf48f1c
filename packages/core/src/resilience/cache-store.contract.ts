/**
 * The behaviour every {@link CacheStore} must show, run against each driver.
 * @internal
 */
import { beforeAll, expect, it, vi } from 'vitest';
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

  it('round-trips status, headers, binary body and storedAt', async () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255, 10, 13]);
    const e: CachedResponse = {
      ...entry(''),
      status: 203,
      statusText: 'Non-Authoritative',
      body: bytes,
      storedAt: 1_700_000_000_123,
    };
    await store.set('bin', e, 60_000);
    const got = await store.get('bin');
    expect(got?.status).toBe(203);
    expect(got?.statusText).toBe('Non-Authoritative');
    expect(got?.headers).toEqual(e.headers);
    expect([...(got?.body ?? [])]).toEqual([...bytes]);
    expect(got?.storedAt).toBe(1_700_000_000_123);
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
}

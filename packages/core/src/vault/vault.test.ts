import { afterEach, describe, expect, it, vi } from 'vitest';
import { vaultCrypto } from './crypto-node';
import { createVault, isVaultError, keyring, memoryVaultStore, type VaultOptions, type VaultStore } from './index';
import { createVaultWith } from './vault';
import { newMasterKey, vaultErrorCode } from './vault-contract';

const k1 = newMasterKey();
const k2 = newMasterKey();
const ring1 = keyring({ primary: 'k1', keys: { k1 } });

/** A memory store that counts data key reads, to observe the cache. */
function countingStore(): VaultStore & { dataKeyReads: number } {
  const inner = memoryVaultStore();
  const counted = Object.assign(Object.create(null) as object, inner, {
    dataKeyReads: 0,
    dataKeys(tenant: string) {
      counted.dataKeyReads++;
      return inner.dataKeys(tenant);
    },
  }) as VaultStore & { dataKeyReads: number };
  return counted;
}

describe('createVault', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('works through the public entry (crypto picked by export condition)', async () => {
    const vault = createVault({ keyring: `k1:${k1}`, store: memoryVaultStore() });
    await vault.put('acme', 'stripe', 'sk_test_public_entry');
    expect((await vault.get('acme', 'stripe')).reveal()).toBe('sk_test_public_entry');
  });

  it.each<[string, Partial<VaultOptions>, string]>([
    ['a missing keyring', { keyring: undefined as unknown as string }, 'key_missing'],
    ['a malformed keyring', { keyring: 'k1:short' }, 'malformed_key'],
    ['no store', { store: undefined as unknown as VaultStore }, 'invalid_argument'],
    ['a store that is not one', { store: {} as VaultStore }, 'invalid_argument'],
    ['a negative TTL', { dataKeyTtlMs: -1 }, 'invalid_argument'],
    ['a NaN TTL', { dataKeyTtlMs: Number.NaN }, 'invalid_argument'],
    ['a zero cache size', { maxCachedTenants: 0 }, 'invalid_argument'],
    ['a fractional cache size', { maxCachedTenants: 1.5 }, 'invalid_argument'],
  ])('fails at construction on %s', async (_label, override, code) => {
    const options = { keyring: ring1, store: memoryVaultStore(), ...override } as VaultOptions;
    expect(await vaultErrorCode(() => createVault(options))).toBe(code);
  });

  it('does not modify the options it is given', () => {
    const options = Object.freeze({
      keyring: Object.freeze({ primary: 'k1', keys: Object.freeze({ k1 }) }),
      store: memoryVaultStore(),
    });
    expect(() => createVault(options)).not.toThrow();
  });

  it('picks up a data key rotated by another process once dataKeyTtlMs has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = memoryVaultStore();
    const a = createVaultWith(vaultCrypto, { keyring: ring1, store, dataKeyTtlMs: 10_000 });
    const b = createVaultWith(vaultCrypto, { keyring: ring1, store });
    await a.put('acme', 'one', 'value-one');
    await b.rotateTenant('acme');
    await a.put('acme', 'two', 'value-two');
    const keyOf = async (name: string) => (await a.list('acme')).find((s) => s.name === name)?.keyId;
    expect(await keyOf('two')).toBe('dk1'); // still cached
    vi.advanceTimersByTime(10_000);
    await a.put('acme', 'three', 'value-three');
    expect(await keyOf('three')).toBe('dk2');
    // The stale write is readable, and the next rotation moves it.
    expect((await b.get('acme', 'two')).reveal()).toBe('value-two');
    const progress = await b.rotate();
    expect(progress.secretsReencrypted).toBe(1);
    expect((await b.list('acme')).every((s) => s.keyId === 'dk2')).toBe(true);
  });

  it('keeps at most maxCachedTenants unwrapped, least recently used out first', async () => {
    const store = countingStore();
    const vault = createVaultWith(vaultCrypto, { keyring: ring1, store, maxCachedTenants: 2 });
    const envelopes: string[] = [];
    for (const t of ['t0', 't1', 't2']) envelopes.push(await vault.encrypt(t, 'n', `value-${t}`));
    const reader = createVaultWith(vaultCrypto, { keyring: ring1, store, maxCachedTenants: 2 });
    const read = (i: number) => reader.decrypt(`t${i}`, 'n', envelopes[i] as string);
    await read(0);
    await read(1);
    const afterTwo = store.dataKeyReads;
    await read(0);
    await read(1);
    expect(store.dataKeyReads).toBe(afterTwo); // both cached
    await read(2); // evicts t0, the least recently used
    await read(1);
    expect(store.dataKeyReads).toBe(afterTwo + 1);
    await read(0);
    expect(store.dataKeyReads).toBe(afterTwo + 2);
    expect((await read(0)).reveal()).toBe('value-t0');
  });

  it("lets two processes create a tenant's first data key at once: one wins, both secrets read", async () => {
    const store = memoryVaultStore();
    const a = createVaultWith(vaultCrypto, { keyring: ring1, store });
    const b = createVaultWith(vaultCrypto, { keyring: ring1, store });
    await Promise.all([a.put('new', 'x', 'value-x'), b.put('new', 'y', 'value-y'), a.put('new', 'z', 'value-z')]);
    expect((await store.dataKeys('new')).map((k) => k.generation)).toEqual([1]);
    const reader = createVaultWith(vaultCrypto, { keyring: ring1, store });
    for (const n of ['x', 'y', 'z']) expect((await reader.get('new', n)).reveal()).toBe(`value-${n}`);
  });

  it('rotates an empty store to nothing, and an already aborted job changes nothing', async () => {
    const store = memoryVaultStore();
    const vault = createVaultWith(vaultCrypto, { keyring: keyring({ primary: 'k2', keys: { k1, k2 } }), store });
    expect(await vault.rotate({ reencrypt: true })).toEqual({
      phase: 'done',
      dataKeysRewrapped: 0,
      dataKeysCreated: 0,
      secretsTotal: 0,
      secretsReencrypted: 0,
      failures: [],
    });
    await createVaultWith(vaultCrypto, { keyring: ring1, store }).put('acme', 'a', 'value-a');
    const controller = new AbortController();
    controller.abort(new Error('not now'));
    await expect(vault.rotate({ signal: controller.signal })).rejects.toThrow('not now');
    expect((await store.dataKeys('acme'))[0]?.masterKeyId).toBe('k1');
  });

  it('reencrypt given a list renews only those tenants', async () => {
    const store = memoryVaultStore();
    const old = createVaultWith(vaultCrypto, { keyring: ring1, store });
    await old.put('a', 's', 'value-a');
    await old.put('b', 's', 'value-b');
    const vault = createVaultWith(vaultCrypto, { keyring: keyring({ primary: 'k2', keys: { k1, k2 } }), store });
    const progress = await vault.rotate({ reencrypt: ['a'] });
    expect(progress).toMatchObject({ dataKeysRewrapped: 2, dataKeysCreated: 1, secretsReencrypted: 1 });
    expect((await vault.list('a'))[0]?.keyId).toBe('dk2');
    expect((await vault.list('b'))[0]?.keyId).toBe('dk1');
  });

  it('reports a tampered data key as decrypt_failed, and rotation lists it without stopping', async () => {
    const store = memoryVaultStore();
    const vault = createVaultWith(vaultCrypto, { keyring: ring1, store });
    await vault.put('a', 's', 'value-a');
    await vault.put('b', 's', 'value-b');
    const [key] = await store.dataKeys('a');
    if (!key) throw new Error('no data key');
    const tampered = key.wrapped.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    await store.rewrapDataKey('a', 1, key.wrapped, tampered, 'k1');
    const fresh = createVaultWith(vaultCrypto, { keyring: keyring({ primary: 'k2', keys: { k1, k2 } }), store });
    let caught: unknown;
    try {
      await fresh.get('a', 's');
    } catch (error) {
      caught = error;
    }
    expect(isVaultError(caught) && caught.code).toBe('decrypt_failed');
    const progress = await fresh.rotate();
    expect(progress.failures).toEqual([{ tenant: 'a', generation: 1, code: 'decrypt_failed', keyId: 'k1' }]);
    expect(progress.dataKeysRewrapped).toBe(1);
    expect((await fresh.get('b', 's')).reveal()).toBe('value-b');
  });

  it('lists a tenant whose newest data key cannot be unwrapped, and still re-encrypts the other tenants', async () => {
    const store = memoryVaultStore();
    const vault = createVaultWith(vaultCrypto, { keyring: ring1, store });
    // Each tenant gets a second data key, with a secret left on the first (as a stale writer would leave it).
    for (const tenant of ['a', 'b']) {
      await vault.put(tenant, 's', `value-${tenant}`);
      const old = await store.getSecret(tenant, 's');
      await vault.rotateTenant(tenant);
      if (!old) throw new Error('no secret');
      await store.putSecret(tenant, 's', old.envelope, old.dataKey);
    }
    const [, newest] = await store.dataKeys('a');
    if (!newest) throw new Error('no second data key');
    const tampered = newest.wrapped.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    await store.rewrapDataKey('a', 2, newest.wrapped, tampered, 'k1');

    const fresh = createVaultWith(vaultCrypto, { keyring: ring1, store });
    const progress = await fresh.rotate();
    expect(progress.failures).toEqual([{ tenant: 'a', generation: 2, code: 'decrypt_failed', keyId: 'k1' }]);
    expect(progress).toMatchObject({ phase: 'done', secretsTotal: 2, secretsReencrypted: 1 });
    expect((await fresh.list('b')).map((s) => s.keyId)).toEqual(['dk2']);
    expect((await fresh.get('b', 's')).reveal()).toBe('value-b');
    expect((await fresh.get('a', 's')).reveal()).toBe('value-a');
  });
});

/**
 * The behaviour every vault store must give a vault, run against each driver
 * (memory, PGlite, Postgres) by one line per driver.
 * @internal
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { VaultCrypto } from './crypto';
import { vaultCrypto as nodeCrypto } from './crypto-node';
import { isVaultError, type VaultErrorCode } from './errors';
import { type Keyring, keyring } from './keyring';
import { isSecret, secret } from './secret';
import type { VaultStore } from './store';
import { createVaultWith, type Vault } from './vault';

/** A fresh 32-byte master key in base64. */
export function newMasterKey(): string {
  return randomBytes(32).toString('base64');
}

/** Runs `fn` and returns the VaultError code it threw (fails the test on anything else). */
export async function vaultErrorCode(fn: () => unknown): Promise<VaultErrorCode> {
  try {
    await fn();
  } catch (error) {
    if (isVaultError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a VaultError, nothing was thrown');
}

/** What a driver's test file supplies to the contract. */
export interface VaultStoreHarness {
  /** A store with the given name, on a backend shared by every store the harness returns. */
  store(name: string): VaultStore;
  /** Releases the backend. */
  close?(): Promise<void>;
}

/** Registers the vault behaviour suite for one store driver (on node:crypto unless another implementation is given). */
export function describeVaultContract(
  label: string,
  setup: () => Promise<VaultStoreHarness>,
  crypto: VaultCrypto = nodeCrypto,
): void {
  describe(`vault contract: ${label}`, () => {
    let harness: VaultStoreHarness;
    let k1: string;
    let k2: string;
    let ring1: Keyring;
    let store: VaultStore;
    let vault: Vault;
    let run = 0;
    const tenant = (suffix = 'a'): string => `tenant-${suffix}`;

    beforeAll(async () => {
      harness = await setup();
      k1 = newMasterKey();
      k2 = newMasterKey();
      ring1 = keyring({ primary: 'k1', keys: { k1 } });
    });
    afterAll(async () => {
      await harness?.close?.();
    });
    // Each test gets its own named store (its own partition of the backend), so whole-store rotations stay apart.
    beforeEach(() => {
      run++;
      store = harness.store(`contract-${run}`);
      vault = createVaultWith(crypto, { keyring: ring1, store });
    });

    it('round-trips a secret, given as a Secret or a string', async () => {
      await vault.put(tenant(), 'stripe', secret('sk_test_round_trip'));
      await vault.put(tenant(), 'pipedrive', 'pd_token_123');
      const got = await vault.get(tenant(), 'stripe');
      expect(isSecret(got)).toBe(true);
      expect(got.reveal()).toBe('sk_test_round_trip');
      expect((await vault.get(tenant(), 'pipedrive')).reveal()).toBe('pd_token_123');
    });

    it('round-trips unicode and long values', async () => {
      const long = 'x'.repeat(10_000);
      await vault.put(tenant(), 'unicode', 'ключ-🔑-鍵');
      await vault.put(tenant(), 'long', long);
      expect((await vault.get(tenant(), 'unicode')).reveal()).toBe('ключ-🔑-鍵');
      expect((await vault.get(tenant(), 'long')).reveal()).toBe(long);
    });

    it('overwrites a secret and keeps its creation time', async () => {
      await vault.put(tenant(), 'key', 'one');
      const [before] = await vault.list(tenant());
      await vault.put(tenant(), 'key', 'two');
      expect((await vault.get(tenant(), 'key')).reveal()).toBe('two');
      const [after] = await vault.list(tenant());
      expect(after?.createdAt.getTime()).toBe(before?.createdAt.getTime());
      expect(after?.updatedAt.getTime()).toBeGreaterThanOrEqual(before?.updatedAt.getTime() ?? 0);
    });

    it('writes a fresh nonce each time: the same value never gives the same envelope', async () => {
      const a = await vault.encrypt(tenant(), 'n', 'same value');
      const b = await vault.encrypt(tenant(), 'n', 'same value');
      expect(a).not.toBe(b);
      expect((await vault.decrypt(tenant(), 'n', a)).reveal()).toBe('same value');
      expect((await vault.decrypt(tenant(), 'n', b)).reveal()).toBe('same value');
    });

    it('lists names and metadata only, sorted, per tenant', async () => {
      await vault.put(tenant(), 'b', 'secret-b-value');
      await vault.put(tenant(), 'a', 'secret-a-value');
      await vault.put(tenant('other'), 'c', 'secret-c-value');
      const list = await vault.list(tenant());
      expect(list.map((s) => s.name)).toEqual(['a', 'b']);
      expect(list[0]).toEqual({ name: 'a', keyId: 'dk1', createdAt: expect.any(Date), updatedAt: expect.any(Date) });
      expect(JSON.stringify(list)).not.toContain('secret-a-value');
      expect(await vault.list(tenant('empty'))).toEqual([]);
    });

    it('deletes, then reports not_found', async () => {
      await vault.put(tenant(), 'gone', 'value-to-delete');
      expect(await vault.delete(tenant(), 'gone')).toBe(true);
      expect(await vault.delete(tenant(), 'gone')).toBe(false);
      expect(await vaultErrorCode(() => vault.get(tenant(), 'gone'))).toBe('not_found');
    });

    it('fails on one flipped bit anywhere in the envelope', async () => {
      const envelope = Buffer.from(await vault.encrypt(tenant(), 'flip', 'a'.repeat(64)), 'base64');
      const codes = new Set<VaultErrorCode>();
      for (let bit = 0; bit < envelope.length * 8; bit++) {
        const copy = Uint8Array.from(envelope);
        copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
        codes.add(await vaultErrorCode(() => vault.decrypt(tenant(), 'flip', copy)));
      }
      // Body bits fail authentication; header bits fail on magic, version, key id or authentication.
      expect(codes.has('decrypt_failed')).toBe(true);
      for (const code of codes) {
        expect(['decrypt_failed', 'malformed_envelope', 'unsupported_version', 'key_missing']).toContain(code);
      }
      expect((await vault.decrypt(tenant(), 'flip', envelope)).reveal()).toBe('a'.repeat(64));
    });

    it('fails when a stored row is moved to another name, tenant or store', async () => {
      await vault.put(tenant(), 'stripe', 'sk_live_moved');
      await vault.put(tenant('b'), 'stripe', 'sk_live_other_tenant');
      const row = await store.getSecret(tenant(), 'stripe');
      if (!row) throw new Error('row missing');
      await store.putSecret(tenant(), 'pipedrive', row.envelope, row.dataKey);
      expect(await vaultErrorCode(() => vault.get(tenant(), 'pipedrive'))).toBe('decrypt_failed');
      await store.putSecret(tenant('b'), 'stripe', row.envelope, row.dataKey);
      expect(await vaultErrorCode(() => vault.get(tenant('b'), 'stripe'))).toBe('decrypt_failed');
      // Another store on the same backend, with the same master key and the data key copied over too.
      const other = harness.store(`contract-${run}-other`);
      const otherVault = createVaultWith(crypto, { keyring: ring1, store: other });
      for (const key of await store.dataKeys(tenant())) {
        await other.insertDataKey({ ...key });
      }
      await other.putSecret(tenant(), 'stripe', row.envelope, row.dataKey);
      expect(await vaultErrorCode(() => otherVault.get(tenant(), 'stripe'))).toBe('decrypt_failed');
      expect((await vault.get(tenant(), 'stripe')).reveal()).toBe('sk_live_moved');
    });

    it('fails when a wrapped data key is moved to another tenant', async () => {
      await vault.put(tenant(), 'x', 'value-x');
      const [key] = await store.dataKeys(tenant());
      if (!key) throw new Error('data key missing');
      await store.insertDataKey({ ...key, tenant: tenant('thief') });
      const row = await store.getSecret(tenant(), 'x');
      if (!row) throw new Error('row missing');
      await store.putSecret(tenant('thief'), 'x', row.envelope, row.dataKey);
      const fresh = createVaultWith(crypto, { keyring: ring1, store });
      expect(await vaultErrorCode(() => fresh.get(tenant('thief'), 'x'))).toBe('decrypt_failed');
    });

    it('rejects bad tenants, names and values with typed errors', async () => {
      expect(await vaultErrorCode(() => vault.put('', 'n', 'v'))).toBe('invalid_argument');
      expect(await vaultErrorCode(() => vault.put(tenant(), '', 'v'))).toBe('invalid_argument');
      expect(await vaultErrorCode(() => vault.put(tenant(), 'x'.repeat(257), 'v'))).toBe('invalid_argument');
      expect(await vaultErrorCode(() => vault.get(42 as unknown as string, 'n'))).toBe('invalid_argument');
      expect(await vaultErrorCode(() => vault.put(tenant(), 'n', ''))).toBe('invalid_secret');
      expect(await vaultErrorCode(() => vault.put(tenant(), 'n', 7 as unknown as string))).toBe('invalid_secret');
      expect(await vaultErrorCode(() => vault.list(''))).toBe('invalid_argument');
      expect(await vaultErrorCode(() => vault.decrypt(tenant(), 'n', 'bm90IGFuIGVudmVsb3Bl'))).toBe(
        'malformed_envelope',
      );
      expect(await vaultErrorCode(() => vault.rotate({ batchSize: 0 }))).toBe('invalid_argument');
    });

    it('rotates the master key by re-wrapping data keys only, then retires the old key', async () => {
      await vault.put(tenant(), 's1', 'value-one');
      await vault.put(tenant('b'), 's2', 'value-two');
      const before = await store.getSecret(tenant(), 's1');
      const ring2 = keyring({ primary: 'k2', keys: { k1, k2 } });
      const rotated = createVaultWith(crypto, { keyring: ring2, store });
      const progress = await rotated.rotate();
      expect(progress.phase).toBe('done');
      expect(progress.dataKeysRewrapped).toBeGreaterThanOrEqual(2);
      expect(progress.secretsReencrypted).toBe(0);
      expect(progress.failures).toEqual([]);
      // The secret rows were not touched: only the data keys moved.
      expect(Buffer.from((await store.getSecret(tenant(), 's1'))?.envelope ?? [])).toEqual(
        Buffer.from(before?.envelope ?? []),
      );
      for (const key of await store.dataKeys(tenant())) expect(key.masterKeyId).toBe('k2');
      const retired = createVaultWith(crypto, {
        keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }),
        store,
      });
      expect((await retired.get(tenant(), 's1')).reveal()).toBe('value-one');
      expect((await retired.get(tenant('b'), 's2')).reveal()).toBe('value-two');
    });

    it('names the retired key when a data key still needs it', async () => {
      await vault.put(tenant(), 'old', 'value-on-k1');
      const retired = createVaultWith(crypto, {
        keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }),
        store,
      });
      let caught: unknown;
      try {
        await retired.get(tenant(), 'old');
      } catch (error) {
        caught = error;
      }
      expect(isVaultError(caught) && caught.code).toBe('key_retired');
      expect(isVaultError(caught) && caught.keyId).toBe('k1');
      expect((caught as Error).message).toContain('k1');
      const gone = createVaultWith(crypto, { keyring: keyring({ primary: 'k2', keys: { k2 } }), store });
      expect(await vaultErrorCode(() => gone.get(tenant(), 'old'))).toBe('key_missing');
      // The rotation job reports such rows and leaves them as they were.
      const report = await retired.rotate();
      expect(report.failures).toContainEqual(
        expect.objectContaining({ tenant: tenant(), code: 'key_retired', keyId: 'k1' }),
      );
    });

    it('rotates a tenant data key: re-encrypts that tenant only', async () => {
      for (let i = 0; i < 5; i++) await vault.put(tenant(), `s${i}`, `value-${i}`);
      await vault.put(tenant('b'), 'keep', 'value-b');
      const progress = await vault.rotateTenant(tenant(), { batchSize: 2 });
      expect(progress).toMatchObject({ phase: 'done', dataKeysCreated: 1, secretsTotal: 5, secretsReencrypted: 5 });
      expect((await vault.list(tenant())).map((s) => s.keyId)).toEqual(['dk2', 'dk2', 'dk2', 'dk2', 'dk2']);
      expect((await vault.list(tenant('b'))).map((s) => s.keyId)).toEqual(['dk1']);
      for (let i = 0; i < 5; i++) expect((await vault.get(tenant(), `s${i}`)).reveal()).toBe(`value-${i}`);
      // New puts in this process use the new data key at once.
      await vault.put(tenant(), 'new', 'value-new');
      expect((await vault.list(tenant())).find((s) => s.name === 'new')?.keyId).toBe('dk2');
    });

    it('lets two vaults (two processes) share the store while one rotates', async () => {
      for (let i = 0; i < 40; i++) await vault.put(tenant(), `s${i}`, `value-${i}`);
      const reader = createVaultWith(crypto, { keyring: keyring({ primary: 'k1', keys: { k1, k2 } }), store });
      const rotator = createVaultWith(crypto, { keyring: keyring({ primary: 'k2', keys: { k1, k2 } }), store });
      const reads = (async () => {
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 40; i++) expect((await reader.get(tenant(), `s${i}`)).reveal()).toBe(`value-${i}`);
        }
      })();
      const report = await rotator.rotate({ reencrypt: [tenant()], batchSize: 7 });
      await reads;
      expect(report.failures).toEqual([]);
      expect((await rotator.list(tenant())).every((s) => s.keyId === 'dk2')).toBe(true);
    });

    it('lets two rotation jobs run at once: each row moves exactly once', async () => {
      for (let i = 0; i < 60; i++) await vault.put(tenant(i % 3 === 0 ? 'a' : 'b'), `s${i}`, `value-${i}`);
      const ring2 = keyring({ primary: 'k2', keys: { k1, k2 } });
      const [one, two] = await Promise.all([
        createVaultWith(crypto, { keyring: ring2, store }).rotate({ reencrypt: true, batchSize: 7 }),
        createVaultWith(crypto, { keyring: ring2, store }).rotate({ reencrypt: true, batchSize: 5 }),
      ]);
      expect([...one.failures, ...two.failures]).toEqual([]);
      expect(one.dataKeysCreated + two.dataKeysCreated).toBe(2);
      expect(one.secretsReencrypted + two.secretsReencrypted).toBe(60);
      const reader = createVaultWith(crypto, {
        keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }),
        store,
      });
      for (let i = 0; i < 60; i++) {
        expect((await reader.get(tenant(i % 3 === 0 ? 'a' : 'b'), `s${i}`)).reveal()).toBe(`value-${i}`);
      }
      expect(await reader.keyStatus()).toMatchObject({ dataKeysByMasterKey: { k2: 4 }, secretsOnOldDataKeys: 0 });
    });

    it('reports what a compromised master key exposes: a re-wrap leaves it exposed, re-encryption ends it', async () => {
      await vault.put(tenant('a'), 'one', 'value-1');
      await vault.put(tenant('a'), 'two', 'value-2');
      await vault.put(tenant('b'), 'one', 'value-3');
      expect((await vault.keyStatus()).exposure).toEqual({ k1: { dataKeys: 2, tenants: 2, secrets: 3 } });

      // k1 is compromised: k2 becomes primary and the data keys are only re-wrapped.
      const ring2 = keyring({ primary: 'k2', keys: { k1, k2 } });
      const rotator = createVaultWith(crypto, { keyring: ring2, store });
      expect((await rotator.rotate()).dataKeysRewrapped).toBe(2);
      const rewrapped = await rotator.keyStatus();
      expect(rewrapped.dataKeysByMasterKey).toEqual({ k2: 2 });
      // The data keys' material is what k1 protected when they were made: all three secrets stay exposed.
      expect(rewrapped.exposure).toEqual({
        k1: { dataKeys: 2, tenants: 2, secrets: 3 },
        k2: { dataKeys: 2, tenants: 2, secrets: 3 },
      });

      // New data keys created under k2, secrets re-encrypted: nothing left on material k1 ever protected.
      const report = await rotator.rotate({ reencrypt: true });
      expect(report).toMatchObject({ dataKeysCreated: 2, secretsReencrypted: 3, failures: [] });
      expect((await rotator.keyStatus()).exposure).toEqual({
        k1: { dataKeys: 2, tenants: 0, secrets: 0 },
        k2: { dataKeys: 4, tenants: 2, secrets: 3 },
      });
      const reader = createVaultWith(crypto, {
        keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }),
        store,
      });
      expect((await reader.get(tenant('b'), 'one')).reveal()).toBe('value-3');
    });

    it('reports key usage, to tell when a master key can be retired', async () => {
      await vault.put(tenant(), 'u', 'value-u');
      const status = await vault.keyStatus();
      expect(status.primary).toBe('k1');
      expect(status.dataKeysByMasterKey.k1).toBeGreaterThan(0);
      expect(status.dataKeysByMasterKey.k2 ?? 0).toBe(0);
      expect(status.tenants).toBeGreaterThan(0);
    });
  });
}

import { createDecipheriv } from 'node:crypto';
import { format, inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPGlite } from '../stores/pglite';
import { vaultCrypto } from './crypto-node';
import { parseEnvelope } from './envelope';
import { isVaultError } from './errors';
import { keyring } from './keyring';
import { memoryVaultStore } from './memory-store';
import { secret } from './secret';
import { sqlVaultStore } from './sql-store';
import { createVaultWith } from './vault';
import { newMasterKey } from './vault-contract';

/** Every text form a key could leak in: as given, base64, base64url, hex. */
function forms(raw: Buffer | string): string[] {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const out = [bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')];
  if (typeof raw === 'string') out.push(raw);
  return out;
}

describe('no key material or plaintext in logs, errors or JSON', () => {
  const captured: string[] = [];
  const capture = (...args: unknown[]): void => {
    captured.push(format(...args));
  };

  beforeEach(() => {
    captured.length = 0;
    for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      vi.spyOn(console, level).mockImplementation(capture);
    }
    const write = (chunk: unknown): boolean => {
      captured.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(write);
    vi.spyOn(process.stderr, 'write').mockImplementation(write);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a full run — configuration, round trips, every error, rotation with progress — leaks nothing', async () => {
    const k1 = newMasterKey();
    const k2 = newMasterKey();
    const plaintexts = ['sk_live_LEAKCHECK_one_9f8e7d6c5b4a', 'pd_token_LEAKCHECK_two_0a1b2c3d', 'ключ-LEAKCHECK-три'];
    const log = (label: string, value: unknown): void => {
      console.log(label, value);
      console.error(label, inspect(value, { depth: 10, showHidden: true }));
      console.info(JSON.stringify({ label, value }));
    };
    const attempt = async (label: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
        log(`${label}: ok`, null);
      } catch (error) {
        expect(isVaultError(error)).toBe(true);
        log(label, error);
        console.warn(`${label}: ${String(error)} ${(error as Error).stack}`);
      }
    };

    // Bad configuration of every kind, each with real key material nearby.
    await attempt('short key', () => keyring({ primary: 'k1', keys: { k1: k1.slice(0, 30) } }));
    await attempt('missing primary', () => keyring({ primary: 'k3', keys: { k1, k2 } }));
    await attempt('text without ids', () => keyring(`${k1},${k2}`));
    await attempt('retired and present', () => keyring({ primary: 'k1', keys: { k1, k2 }, retired: ['k2'] }));
    await attempt('unset', () => keyring(undefined as unknown as string));

    const ring = keyring({ primary: 'k1', keys: { k1 } });
    log('keyring', ring);
    const db = await createPGlite();
    const { migrate } = await import('../stores/migrate');
    await migrate(db, { modules: ['vault'] });
    const stores = [memoryVaultStore(), sqlVaultStore(db)];
    const dataKeys: Buffer[] = [];
    for (const store of stores) {
      const vault = createVaultWith(vaultCrypto, { keyring: ring, store });
      log('vault', vault);
      for (const [i, plain] of plaintexts.entries()) await vault.put('acme', `key-${i}`, secret(plain));
      for (let i = 0; i < plaintexts.length; i++) {
        const got = await vault.get('acme', `key-${i}`);
        log('got', got);
        log('got in an object', { headers: { authorization: got }, at: new Date(0) });
        console.log(`template: ${got}`);
      }
      log('list', await vault.list('acme'));
      log('encrypt', await vault.encrypt('acme', 'detached', plaintexts[0] as string));

      // Every failure path, with the real ciphertext and keys in play.
      const row = await store.getSecret('acme', 'key-0');
      if (!row) throw new Error('row missing');
      await store.putSecret('acme', 'moved', row.envelope, row.dataKey);
      await attempt('moved row', () => vault.get('acme', 'moved'));
      const flipped = row.envelope.slice();
      flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 4;
      await attempt('flipped bit', () => vault.decrypt('acme', 'key-0', flipped));
      await attempt('not found', () => vault.get('acme', 'nope'));
      await attempt('bad secret', () => vault.put('acme', 'x', ''));
      await attempt('bad tenant', () => vault.put('', 'x', plaintexts[0] as string));
      await attempt('garbage envelope', () => vault.decrypt('acme', 'key-0', 'AAAA'));

      // Rotation with progress logged as JSON, then a retired key.
      const rotating = createVaultWith(vaultCrypto, { keyring: keyring({ primary: 'k2', keys: { k1, k2 } }), store });
      log('rotation', await rotating.rotate({ reencrypt: true, onProgress: (p) => console.log(JSON.stringify(p)) }));
      log('status', await rotating.keyStatus());
      const retired = createVaultWith(vaultCrypto, {
        keyring: keyring({ primary: 'k1', keys: { k1 }, retired: ['k2'] }),
        store,
      });
      await attempt('retired key', () => retired.get('acme', 'key-1'));
      await attempt('missing key', () =>
        createVaultWith(vaultCrypto, { keyring: keyring({ primary: 'k1', keys: { k1 } }), store }).get('acme', 'key-1'),
      );

      // The unwrapped data keys, recovered independently, must not show up either.
      for (const key of await store.dataKeys('acme')) {
        const parsed = parseEnvelope(key.wrapped, 'test');
        const master = Buffer.from(parsed.keyId === 'k1' ? k1 : k2, 'base64');
        const decipher = createDecipheriv('aes-256-gcm', master, parsed.nonce);
        // The tag check is skipped: only the raw bytes are wanted, to search for them.
        dataKeys.push(decipher.update(parsed.sealed.subarray(0, parsed.sealed.length - 16)));
      }
    }
    // A failing SQL store, whose error carries a driver cause.
    await db.close();
    await attempt('closed database', () =>
      createVaultWith(vaultCrypto, { keyring: ring, store: sqlVaultStore(db) }).put(
        'acme',
        'x',
        plaintexts[0] as string,
      ),
    );

    const text = captured.join('\n');
    expect(captured.length).toBeGreaterThan(50);
    expect(text).toContain('[redacted]');
    expect(text).toContain('decrypt_failed');
    expect(text).toContain('key_retired');
    expect(dataKeys.length).toBeGreaterThanOrEqual(4);
    for (const needle of [k1, k2].flatMap((k) => forms(Buffer.from(k, 'base64')))) expect(text).not.toContain(needle);
    expect(text).not.toContain(k1.slice(0, 30));
    for (const plain of plaintexts) for (const needle of forms(plain)) expect(text).not.toContain(needle);
    for (const key of dataKeys) for (const needle of forms(key)) expect(text).not.toContain(needle);
  });
});

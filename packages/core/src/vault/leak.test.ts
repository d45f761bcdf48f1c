import { createDecipheriv, randomBytes } from 'node:crypto';
import { format, inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPGlite } from '../stores/pglite';
import { vaultCrypto } from './crypto-node';
import { encodeHeader, parseEnvelope } from './envelope';
import { isVaultError, type VaultError } from './errors';
import { type KeyringConfig, keyring } from './keyring';
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

  it('a misconfigured keyring (swapped id and key, a key as id, hex, base64url, JSON, wrong lengths) never shows key material', () => {
    const raw = [32, 32, 16, 31, 33].map((n) => randomBytes(n));
    const [a, b, short, under, over] = raw as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const b64 = (key: Buffer) => key.toString('base64');
    const url = (key: Buffer) => key.toString('base64url');
    const hex = (key: Buffer) => key.toString('hex');
    const configs: [string, unknown][] = [
      ['text, id and key swapped (base64url)', `${url(a)}:k1`],
      ['text, id and key swapped (hex)', `${hex(a)}:k1`],
      ['text, id and key swapped (standard base64)', `${b64(a)}:k1`],
      ['text, the second entry swapped', `k1:${b64(b)},${url(a)}:k2`],
      ['text, a key as id of another key', `${url(a)}:${b64(b)}`],
      ['text, a hex key as id of another key', `${hex(a)}:${url(b)}`],
      ['text, a key without an id', `${url(a)}`],
      ['text, a key given twice under a key as id', `${url(a)}:${b64(b)},${url(a)}:${b64(b)}`],
      ['text, a 16-byte key swapped (base64url)', `${url(short)}:k1`],
      ['text, a 16-byte key swapped (hex)', `${hex(short)}:k1`],
      ['text, a 31-byte key swapped', `${url(under)}:k1`],
      ['text, a 33-byte key swapped', `${url(over)}:k1`],
      ['text, a key cut to 24 characters as id', `${url(a).slice(0, 24)}:k1`],
      ['object, id and key swapped', { primary: 'k1', keys: { [url(a)]: 'k1' } }],
      ['object, id and key swapped, as a Secret', { primary: 'k1', keys: { [hex(a)]: secret('k1') } }],
      ['object, a key as id and as primary', { primary: url(a), keys: { [url(a)]: b64(b) } }],
      ['object, a key as primary', { primary: hex(a), keys: { k1: b64(b) } }],
      ['object, a key as retired id', { primary: 'k1', keys: { k1: b64(b) }, retired: [url(a)] }],
      ['object, a key as id of the wrong type', { primary: 'k1', keys: { [url(a)]: 42 } }],
      ['object, a hex key as material', { primary: 'k1', keys: { k1: hex(a) } }],
      ['object, wrong lengths', { primary: 'k1', keys: { k1: b64(under), k2: url(over) } }],
      ['JSON, id and key swapped (hex)', JSON.stringify({ primary: 'k1', keys: { [hex(a)]: 'k1' } })],
      ['JSON, a key as primary and id', JSON.stringify({ primary: url(a), keys: { [url(a)]: url(b) } })],
      ['JSON, a 16-byte key as id', JSON.stringify({ primary: 'k1', keys: { [url(short)]: b64(b) } })],
      ['JSON, broken after a key', `{"primary":"k1","keys":{"k1":"${b64(a)}"`],
      ['JSON, a key as a retired id', JSON.stringify({ primary: 'k1', keys: { k1: b64(b) }, retired: [hex(a)] })],
    ];
    // Every 8-character piece of every text form of the material: a fragment is a leak too.
    const pieces = new Set<string>();
    for (const key of raw) {
      for (const form of forms(key)) for (let i = 0; i + 8 <= form.length; i++) pieces.add(form.slice(i, i + 8));
    }
    for (const [label, config] of configs) {
      let error: VaultError | undefined;
      try {
        keyring(config as KeyringConfig);
      } catch (thrown) {
        if (!isVaultError(thrown)) throw thrown;
        error = thrown;
      }
      if (!error) throw new Error(`${label}: the keyring was accepted`);
      console.error(error);
      const fields = Object.getOwnPropertyNames(error).map((name) =>
        String((error as unknown as Record<string, unknown>)[name]),
      );
      const text = [
        error.message,
        error.stack,
        String(error),
        JSON.stringify(error),
        inspect(error, { depth: 10, showHidden: true }),
        format('%o', error),
        ...fields,
        captured.join('\n'),
      ].join('\n');
      for (const piece of pieces) {
        if (text.includes(piece))
          throw new Error(`${label}: the error shows key material (${error.code}: ${error.message})`);
      }
      expect(error.message, label).toMatch(/^\[@ballast\/core\] \[keyring\] /);
    }
    expect(captured.length).toBe(configs.length);
  });

  it('a swapped id and key is refused with a hint, by position and length', () => {
    const key = randomBytes(32);
    for (const text of [`${key.toString('base64url')}:k1`, `${key.toString('hex')}:k1`]) {
      let message = '';
      try {
        keyring(text);
      } catch (error) {
        if (!isVaultError(error)) throw error;
        expect(error.code).toBe('malformed_key');
        expect(error.keyId).toBeUndefined();
        message = error.message;
      }
      expect(message).toContain('position 1');
      expect(message).toContain(`${text.indexOf(':')} characters`);
      expect(message).toContain('swapped');
    }
    // A short, valid id is still named.
    expect(() => keyring({ primary: 'k1', keys: { k1: 'k2' } })).toThrow(/key k1 \(|key k1 is not/);
  });

  it('an envelope or a stored data key that names a key-shaped id does not get it echoed', async () => {
    const key = randomBytes(32);
    const store = memoryVaultStore();
    const vault = createVaultWith(vaultCrypto, {
      keyring: keyring({ primary: 'k1', keys: { k1: newMasterKey() } }),
      store,
    });
    const shaped = [key.toString('base64url'), key.toString('hex')];
    const errors: unknown[] = [];
    for (const [i, id] of shaped.entries()) {
      // A secret envelope whose header names the key where a data key id belongs.
      const envelope = Buffer.concat([encodeHeader(id), randomBytes(12 + 16 + 4)]);
      errors.push(await vault.decrypt('acme', 'x', envelope).catch((e: unknown) => e));
      // A stored data key wrapped, by its header, under a master key of that id.
      await store.insertDataKey({
        tenant: `t${i}`,
        generation: 1,
        wrapped: Buffer.concat([encodeHeader(id), randomBytes(12 + 32 + 16)]),
        masterKeyId: id,
        createdUnder: id,
      });
      errors.push(await vault.put(`t${i}`, 'x', 'value').catch((e: unknown) => e));
    }
    const codes = errors.map((e) => (isVaultError(e) ? e.code : String(e)));
    expect(codes).toEqual(['malformed_envelope', 'key_missing', 'malformed_envelope', 'key_missing']);
    const text = errors
      .map(
        (e) => `${(e as Error).message} ${(e as Error).stack} ${JSON.stringify(e)} ${inspect(e, { showHidden: true })}`,
      )
      .join('\n');
    for (const form of forms(key))
      for (let i = 0; i + 8 <= form.length; i++) expect(text).not.toContain(form.slice(i, i + 8));
  });
});

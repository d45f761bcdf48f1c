import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isVaultError, type VaultError } from './errors';
import { isKeyring, type KeyringConfig, keyMaterial, keyring } from './keyring';
import { secret } from './secret';
import { newMasterKey } from './vault-contract';

function thrown(fn: () => unknown): VaultError {
  try {
    fn();
  } catch (error) {
    if (isVaultError(error)) return error;
    throw error;
  }
  throw new Error('expected a VaultError');
}

describe('keyring', () => {
  const k1 = newMasterKey();
  const k2 = newMasterKey();

  it('builds from an object: primary, decrypt-only keys, retired ids', () => {
    const ring = keyring({ primary: 'k2', keys: { k1, k2 }, retired: ['k0'] });
    expect(ring.primary).toBe('k2');
    expect(ring.keyIds).toEqual(['k1', 'k2']);
    expect(ring.retired).toEqual(['k0']);
    expect(isKeyring(ring)).toBe(true);
    expect(keyring(ring)).toBe(ring);
    expect(Buffer.from(keyMaterial(ring, 'k1', 'test')).toString('base64')).toBe(k1);
  });

  it('accepts keys as Secret values and URL-safe base64 without padding', () => {
    const urlSafe = Buffer.from(k1, 'base64').toString('base64url');
    const ring = keyring({ primary: 'a', keys: { a: secret(k1), b: urlSafe } });
    expect(Buffer.from(keyMaterial(ring, 'b', 'test'))).toEqual(Buffer.from(k1, 'base64'));
    expect(Buffer.from(keyMaterial(ring, 'a', 'test'))).toEqual(Buffer.from(k1, 'base64'));
  });

  it('parses the text form: id:base64 entries, the first one primary', () => {
    const ring = keyring(` k2:${k2}, k1:${k1}\n`);
    expect(ring.primary).toBe('k2');
    expect(ring.keyIds).toEqual(['k2', 'k1']);
  });

  it('parses the JSON text form', () => {
    const ring = keyring(JSON.stringify({ primary: 'k1', keys: { k1, k2 }, retired: ['k0'] }));
    expect(ring.primary).toBe('k1');
    expect(ring.retired).toEqual(['k0']);
  });

  it.each<[string, unknown, string]>([
    ['no configuration (an unset variable)', undefined, 'key_missing'],
    ['null', null, 'key_missing'],
    ['an empty string', '', 'key_missing'],
    ['blank text', '   ', 'key_missing'],
    ['a primary without a key', { primary: 'k3', keys: { k1 } }, 'key_missing'],
    ['no keys at all', { primary: 'k1', keys: {} }, 'key_missing'],
    ['a key that is too short', { primary: 'k1', keys: { k1: Buffer.alloc(16).toString('base64') } }, 'malformed_key'],
    ['a key that is too long', { primary: 'k1', keys: { k1: Buffer.alloc(33).toString('base64') } }, 'malformed_key'],
    ['a key that is not base64', { primary: 'k1', keys: { k1: 'not base64 at all!!' } }, 'malformed_key'],
    ['an empty key', { primary: 'k1', keys: { k1: '' } }, 'malformed_key'],
    ['an id with spaces', { primary: 'k 1', keys: { 'k 1': k1 } }, 'malformed_key'],
    ['a bad retired id', { primary: 'k1', keys: { k1 }, retired: ['bad id'] }, 'malformed_key'],
    ['text without ids', k1, 'malformed_key'],
    ['text with a duplicate id', `k1:${k1},k1:${k2}`, 'malformed_key'],
    ['a key that is a number', { primary: 'k1', keys: { k1: 42 } }, 'invalid_argument'],
    ['a missing keys field', { primary: 'k1' }, 'invalid_argument'],
    ['a number', 42, 'invalid_argument'],
    ['broken JSON text', '{"primary":', 'invalid_argument'],
    ['a key both present and retired', { primary: 'k1', keys: { k1, k2 }, retired: ['k2'] }, 'invalid_argument'],
    ['a retired primary', { primary: 'k1', keys: { k2 }, retired: ['k1'] }, 'key_retired'],
  ])('fails at construction on %s', (_label, config, code) => {
    const error = thrown(() => keyring(config as KeyringConfig));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(/^\[@ballast\/core\] \[keyring\] /);
  });

  it('never echoes key material in errors, even a key pasted where an id belongs', () => {
    const cases: unknown[] = [
      { primary: 'k1', keys: { k1: k1.slice(0, 20) } },
      { primary: Buffer.from(k1, 'base64').toString('base64url'), keys: { k2 } },
      { primary: 'k1', keys: { [k1]: k2 } },
      { primary: 'k1', keys: { [Buffer.from(k1, 'base64').toString('base64url')]: k2 } },
      { primary: 'k1', keys: { [Buffer.from(k1, 'base64').toString('base64url')]: 42 } },
      `${k1},k2:${k2}`,
      `k1:${k1},k1:${k2}`,
    ];
    for (const config of cases) {
      const error = thrown(() => keyring(config as KeyringConfig));
      const text = `${error.message} ${inspect(error)} ${JSON.stringify(error)}`;
      for (const key of [k1, k2, k1.slice(0, 20), Buffer.from(k1, 'base64').toString('base64url')]) {
        expect(text).not.toContain(key);
      }
    }
  });

  it('shows ids only when logged or serialized', () => {
    const ring = keyring({ primary: 'k2', keys: { k1, k2 } });
    const text = `${inspect(ring, { showHidden: true, depth: 10 })} ${JSON.stringify(ring)} ${String(ring)}`;
    expect(text).toContain('k2');
    expect(text).not.toContain(k1);
    expect(text).not.toContain(k2);
  });

  it('names the key id when asked for a retired or unknown key', () => {
    const ring = keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] });
    expect(thrown(() => keyMaterial(ring, 'k1', 'test'))).toMatchObject({ code: 'key_retired', keyId: 'k1' });
    expect(thrown(() => keyMaterial(ring, 'k9', 'test'))).toMatchObject({ code: 'key_missing', keyId: 'k9' });
  });

  it('does not keep a reference to the caller configuration', () => {
    const keys: Record<string, string> = { k1 };
    const ring = keyring({ primary: 'k1', keys });
    keys.k1 = k2;
    expect(Buffer.from(keyMaterial(ring, 'k1', 'test')).toString('base64')).toBe(k1);
    expect(Object.isFrozen(ring)).toBe(true);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vaultCrypto as nodeCrypto } from './crypto-node';
import { vaultCrypto as webCrypto } from './crypto-web';
import { dataKeyGeneration } from './data-keys';
import {
  associatedData,
  associatedDataWith,
  type Binding,
  bindingPrefix,
  encodeHeader,
  FORMAT_VERSION,
  fromBase64,
  joinEnvelope,
  KEY_ID,
  parseEnvelope,
  toBase64,
  utf8Length,
  writeUtf8,
} from './envelope';
import { isVaultError } from './errors';

const binding: Binding = { purpose: 'secret', store: 'default', tenant: 'acme', name: 'stripe' };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isVaultError(error) ? error.code : 'not a VaultError';
  }
  return undefined;
}

describe('envelope layout', () => {
  it('writes magic, version, key id length and key id, then nonce, ciphertext and tag', () => {
    const header = encodeHeader('dk7');
    expect([...header]).toEqual([0xba, 0x11, FORMAT_VERSION, 3, 0x64, 0x6b, 0x37]);
    const nonce = new Uint8Array(12).fill(1);
    const sealed = new Uint8Array(20).fill(2);
    const envelope = joinEnvelope(header, nonce, sealed);
    expect(envelope.length).toBe(7 + 12 + 20);
    const parsed = parseEnvelope(envelope, 'test');
    expect(parsed.keyId).toBe('dk7');
    expect(parsed.version).toBe(1);
    expect([...parsed.header]).toEqual([...header]);
    expect([...parsed.nonce]).toEqual([...nonce]);
    expect([...parsed.sealed]).toEqual([...sealed]);
  });

  it('rejects what is not an envelope', () => {
    const good = joinEnvelope(encodeHeader('k1'), new Uint8Array(12), new Uint8Array(17));
    expect(code(() => parseEnvelope(new Uint8Array(10), 't'))).toBe('malformed_envelope');
    expect(code(() => parseEnvelope('text' as unknown as Uint8Array, 't'))).toBe('malformed_envelope');
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(code(() => parseEnvelope(badMagic, 't'))).toBe('malformed_envelope');
    const newer = good.slice();
    newer[2] = 2;
    expect(code(() => parseEnvelope(newer, 't'))).toBe('unsupported_version');
    const longId = good.slice();
    longId[3] = 200;
    expect(code(() => parseEnvelope(longId, 't'))).toBe('malformed_envelope');
    const zeroId = good.slice();
    zeroId[3] = 0;
    expect(code(() => parseEnvelope(zeroId, 't'))).toBe('malformed_envelope');
    const badId = good.slice();
    badId[4] = 0x20;
    expect(code(() => parseEnvelope(badId, 't'))).toBe('malformed_envelope');
    expect(code(() => parseEnvelope(good, 't'))).toBeUndefined();
  });

  it('binds the associated data to header, purpose, store, tenant and name, unambiguously', () => {
    const header = encodeHeader('dk1');
    const base = toBase64(associatedData(header, binding));
    const variants: Binding[] = [
      { ...binding, purpose: 'data-key' },
      { ...binding, store: 'other' },
      { ...binding, tenant: 'acme2' },
      { ...binding, name: 'stripe2' },
      // Same concatenation, different split between fields.
      { ...binding, tenant: 'acmes', name: 'tripe' },
    ];
    for (const variant of variants) expect(toBase64(associatedData(header, variant))).not.toBe(base);
    expect(toBase64(associatedData(encodeHeader('dk2'), binding))).not.toBe(base);
    expect(toBase64(associatedData(header, { ...binding }))).toBe(base);
  });

  it('builds the same associated data from a prebuilt store prefix', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (tenant, name) => {
        const header = encodeHeader('dk3');
        const whole = associatedData(header, { ...binding, tenant, name });
        const prefixed = associatedDataWith(header, bindingPrefix('secret', binding.store), tenant, name);
        expect([...prefixed]).toEqual([...whole]);
      }),
    );
  });

  it('accepts exactly the key id bytes KEY_ID allows', () => {
    for (let byte = 0; byte < 256; byte++) {
      const envelope = joinEnvelope(encodeHeader('k1'), new Uint8Array(12), new Uint8Array(17));
      envelope[5] = byte;
      const valid = byte < 0x80 && KEY_ID.test(`k${String.fromCharCode(byte)}`);
      expect(code(() => parseEnvelope(envelope, 't'))).toBe(valid ? undefined : 'malformed_envelope');
    }
  });

  it('reads data key generations as /^dk([1-9][0-9]{0,8})$/ does', () => {
    const byRegex = (id: string): number | undefined => {
      const digits = /^dk([1-9][0-9]{0,8})$/.exec(id)?.[1];
      return digits === undefined ? undefined : Number(digits);
    };
    const named = ['dk1', 'dk7', 'dk10', 'dk999999999', 'dk1000000000', 'dk0', 'dk01', 'dk', 'd', '', 'Dk1'];
    for (const id of [...named, 'dk-1', 'dk1a', 'dk 1', 'kd1', 'dk１', 'k1']) {
      expect(dataKeyGeneration(id)).toBe(byRegex(id));
    }
    expect(dataKeyGeneration('dk999999999')).toBe(999_999_999);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^dk[0-9]{0,11}$/)), (id) => {
        expect(dataKeyGeneration(id)).toBe(byRegex(id));
      }),
    );
  });

  it('writes UTF-8 exactly as TextEncoder does, lone surrogates included', () => {
    const encoder = new TextEncoder();
    const check = (text: string): void => {
      const expected = encoder.encode(text);
      const out = new Uint8Array(utf8Length(text));
      expect(writeUtf8(out, 0, text)).toBe(expected.length);
      expect([...out]).toEqual([...expected]);
    };
    for (const text of ['', 'acme', 'é', '€', '🔑', 'a\ud800b', '\udc00', 'x\ud83d', 'ключ-🔑-鍵']) check(text);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => check(text)));
  });

  it('encodes and strictly decodes base64', () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect([...(fromBase64(toBase64(bytes)) ?? [])]).toEqual([...bytes]);
    expect([...(fromBase64(Buffer.from(bytes).toString('base64url')) ?? [])]).toEqual([...bytes]);
    expect(fromBase64('not base64!')).toBeUndefined();
    expect(fromBase64('abcde')).toBeUndefined();
    expect(fromBase64('')?.length).toBe(0);
  });
});

describe('AES-256-GCM implementations', () => {
  const raw = Uint8Array.from({ length: 32 }, (_, i) => i);
  const nonce = new Uint8Array(12).fill(9);
  const aad = new TextEncoder().encode('bound');
  const plaintext = new TextEncoder().encode('sk_test_cross_implementation');

  for (const [sealer, opener] of [
    [nodeCrypto, webCrypto],
    [webCrypto, nodeCrypto],
    [nodeCrypto, nodeCrypto],
    [webCrypto, webCrypto],
  ] as const) {
    it(`${sealer.backend} seals what ${opener.backend} opens, and both refuse tampering`, async () => {
      const sealed = await sealer.seal(await sealer.importKey(raw), nonce, plaintext, aad);
      expect(sealed.length).toBe(plaintext.length + 16);
      const key = await opener.importKey(raw);
      expect(new TextDecoder().decode(await opener.open(key, nonce, sealed, aad))).toBe('sk_test_cross_implementation');
      const flipped = sealed.slice();
      flipped[0] = (flipped[0] as number) ^ 1;
      expect(await opener.open(key, nonce, flipped, aad)).toBeUndefined();
      const tag = sealed.slice();
      tag[tag.length - 1] = (tag[tag.length - 1] as number) ^ 0x80;
      expect(await opener.open(key, nonce, tag, aad)).toBeUndefined();
      expect(await opener.open(key, nonce, sealed, new TextEncoder().encode('other'))).toBeUndefined();
      expect(await opener.open(key, nonce, sealed.subarray(0, 10), aad)).toBeUndefined();
    });
  }

  it('matches an independent node:crypto encryption byte for byte', async () => {
    const { createCipheriv } = await import('node:crypto');
    const cipher = createCipheriv('aes-256-gcm', raw, nonce);
    cipher.setAAD(aad);
    const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    for (const impl of [nodeCrypto, webCrypto]) {
      expect(Buffer.from(await impl.seal(await impl.importKey(raw), nonce, plaintext, aad))).toEqual(expected);
    }
  });

  it('draws random nonces', () => {
    for (const impl of [nodeCrypto, webCrypto]) {
      const a = impl.randomBytes(12);
      const b = impl.randomBytes(12);
      expect(a.length).toBe(12);
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    }
  });
});

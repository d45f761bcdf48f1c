import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backend as node } from './node';
import type { HashAlgorithm } from './types';
import { backend as web } from './web';

const text = fc.oneof(fc.string(), fc.uint8Array({ maxLength: 200 }));

describe('node:crypto and Web Crypto backends agree', () => {
  it('on HMAC-SHA256/512 of prefix + body (as bytes, hex and base64), and on SHA-256', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ minLength: 1 }), fc.uint8Array({ minLength: 1, maxLength: 64 })),
        fc.constantFrom<HashAlgorithm>('sha256', 'sha512'),
        fc.string({ maxLength: 30 }),
        text,
        async (secret, algorithm, prefix, body) => {
          const a = await node.hmac(node.hmacKey(secret, algorithm), prefix, body);
          const b = await web.hmac(web.hmacKey(secret, algorithm), prefix, body);
          expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
          for (const encoding of ['hex', 'base64'] as const) {
            const text = await node.hmacText(node.hmacKey(secret, algorithm), prefix, body, encoding);
            expect(await web.hmacText(web.hmacKey(secret, algorithm), prefix, body, encoding)).toBe(text);
            expect(text).toBe(Buffer.from(a).toString(encoding));
          }
          expect(Buffer.from(await node.sha256(body)).equals(Buffer.from(await web.sha256(body)))).toBe(true);
          const hex = createHash('sha256').update(body).digest('hex');
          expect([await node.sha256Hex(body), await web.sha256Hex(body)]).toEqual([hex, hex]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('on Ed25519: each verifies the other signatures and derives the same public key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string(),
        text,
        async (seed, prefix, body) => {
          const nodePrivate = node.ed25519PrivateKey(seed);
          const webPrivate = web.ed25519PrivateKey(seed);
          if (!nodePrivate || !webPrivate) throw new Error('a 32-byte seed must import');
          const publicRaw = await node.ed25519PublicOf(nodePrivate);
          expect(Buffer.from(await web.ed25519PublicOf(webPrivate)).equals(Buffer.from(publicRaw))).toBe(true);
          const nodePublic = node.ed25519PublicKey(publicRaw);
          const webPublic = web.ed25519PublicKey(publicRaw);
          if (!nodePublic || !webPublic) throw new Error('a derived public key must import');
          const fromNode = await node.ed25519Sign(nodePrivate, prefix, body);
          const fromWeb = await web.ed25519Sign(webPrivate, prefix, body);
          expect(await web.ed25519Verify(webPublic, fromNode, prefix, body)).toBe(true);
          expect(await node.ed25519Verify(nodePublic, fromWeb, prefix, body)).toBe(true);
          const flipped = fromNode.slice();
          flipped[0] = (flipped[0] as number) ^ 1;
          expect(await web.ed25519Verify(webPublic, flipped, prefix, body)).toBe(false);
          expect(await node.ed25519Verify(nodePublic, flipped, prefix, body)).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('on constant-time equality, including different lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        const expected = Buffer.from(a).equals(Buffer.from(b));
        expect(node.equal(a, b)).toBe(expected);
        expect(web.equal(a, b)).toBe(expected);
        expect(node.equal(a, a.slice())).toBe(true);
        expect(web.equal(a, a.slice())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('reject keys of the wrong size', () => {
    for (const backend of [node, web]) {
      expect(backend.ed25519PublicKey(new Uint8Array(31))).toBeUndefined();
      expect(backend.ed25519PrivateKey(new Uint8Array(33))).toBeUndefined();
    }
  });
});

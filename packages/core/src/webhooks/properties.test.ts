import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8, utf8Length } from '../internal/encoding';
import { isWebhookVerificationError } from './errors';
import { schemeRequest } from './headers';
import type { WebhookScheme } from './scheme';
import { hmacScheme } from './schemes/hmac';
import { parseStandardSignatures } from './schemes/standard';
import { parseStripeSignature } from './schemes/stripe';
import { signWebhook } from './sign';
import type { VerifyWebhookOptions } from './types';
import { verifyWebhook } from './verify';

const t = 1_700_000_000;
const now = () => t * 1000;
const runs = { numRuns: 150 };

/** Runs `fn` and fails the property if it throws anything but a WebhookVerificationError. */
function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!isWebhookVerificationError(error)) throw error;
  }
}

const anyText = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
const headerish = fc.oneof(
  anyText,
  fc
    .array(
      fc.constantFrom(
        't=',
        'v1=',
        'v0=',
        ',',
        '=',
        ' ',
        'v1,',
        'v1a,',
        'sha256=',
        '1700000000',
        'ab',
        'AA==',
        '\u0000',
      ),
    )
    .map((parts) => parts.join('')),
);

const schemes: Array<{ label: string; options: VerifyWebhookOptions; signSecret: string }> = [
  { label: 'stripe', options: { scheme: 'stripe', secret: 'whsec_prop' }, signSecret: 'whsec_prop' },
  {
    label: 'standard',
    options: { scheme: 'standard', secret: `whsec_${toBase64(new Uint8Array(24).fill(3))}` },
    signSecret: `whsec_${toBase64(new Uint8Array(24).fill(3))}`,
  },
  { label: 'github', options: { scheme: 'github', secret: 'gh secret' }, signSecret: 'gh secret' },
  {
    label: 'hmac sha512 base64',
    options: {
      scheme: hmacScheme({ header: 'x-sig', algorithm: 'sha512', encoding: 'base64', timestampHeader: 'x-ts' }),
      secret: 'k',
    },
    signSecret: 'k',
  },
  { label: 'basic', options: { scheme: 'basic', secret: 'user:pass' }, signSecret: 'user:pass' },
];

describe('header parsers and decoders never throw anything but the typed error', () => {
  it('parseStripeSignature', () => {
    fc.assert(
      fc.property(headerish, (header) => onlyTypedErrors(() => parseStripeSignature(header))),
      { numRuns: 1000 },
    );
  });

  it('parseStandardSignatures', () => {
    fc.assert(
      fc.property(headerish, (header) =>
        onlyTypedErrors(() => parseStandardSignatures('standard', header, 'webhook-signature')),
      ),
      { numRuns: 1000 },
    );
  });

  it('header lookups over arbitrary records', () => {
    const value = fc.oneof(anyText, fc.array(anyText, { maxLength: 3 }), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.oneof(fc.constantFrom('stripe-signature', 'Stripe-Signature', 'STRIPE-signature'), anyText),
          value,
        ),
        (record) => onlyTypedErrors(() => schemeRequest('{}', record).header('stripe-signature')),
      ),
      { numRuns: 500 },
    );
  });

  it('hex and base64 decoders reject or round-trip, never throw', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const hex = fromHex(text);
        if (hex) expect(toHex(hex)).toBe(text.toLowerCase());
        const b64 = fromBase64(text);
        if (b64) expect(toBase64(b64).replace(/=+$/, '')).toBe(text.replace(/=+$/, ''));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes);
        expect(fromBase64(toBase64(bytes))).toEqual(bytes);
        expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
      { numRuns: 500 },
    );
  });

  it('utf8Length agrees with the encoder, and fromUtf8 rejects what Node would replace', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(utf8Length(text)).toBe(utf8(text).length);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const decoded = fromUtf8(bytes);
        const lossless = Buffer.from(Buffer.from(bytes).toString('utf8'), 'utf8').equals(Buffer.from(bytes));
        expect(decoded !== undefined).toBe(lossless);
      }),
      { numRuns: 500 },
    );
  });
});

describe.each(schemes)('verifyWebhook ($label) over arbitrary input', ({ options, signSecret }) => {
  const scheme = options.scheme as WebhookScheme | string;

  it('rejects arbitrary headers and bodies with the typed error only', async () => {
    const headerNames = fc.constantFrom(
      'stripe-signature',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
      'svix-signature',
      'x-hub-signature-256',
      'x-github-delivery',
      'x-github-event',
      'x-sig',
      'x-ts',
      'authorization',
      'Stripe-Signature',
    );
    const headers = fc.dictionary(headerNames, fc.oneof(headerish, fc.array(headerish, { maxLength: 2 })));
    const body = fc.oneof(anyText, fc.uint8Array({ maxLength: 300 }));
    await fc.assert(
      fc.asyncProperty(headers, body, async (h, b) => {
        const outcome = await verifyWebhook({ body: b, headers: h }, { ...options, now }).then(
          () => 'verified',
          (error: unknown) => error,
        );
        // random input is never authentic, and every failure is typed
        expect(outcome).not.toBe('verified');
        expect(isWebhookVerificationError(outcome), String(outcome)).toBe(true);
      }),
      runs,
    );
  });

  it('verifies a genuine body and no modification of it', async () => {
    const modification = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 400 }), modification, async (body, change) => {
        const signed = await signWebhook({
          scheme: scheme as never,
          secret: signSecret,
          body,
          timestamp: t,
          id: 'msg_p',
          type: 'push',
        });
        const genuine = await verifyWebhook({ body, headers: signed.headers }, { ...options, now, payload: 'raw' });
        expect(Buffer.from(genuine.rawBody).equals(Buffer.from(body))).toBe(true);

        let modified: Uint8Array;
        if (change.kind === 'flip') {
          modified = body.slice();
          const at = change.at % body.length;
          modified[at] = (modified[at] as number) ^ (1 << change.bit);
        } else if (change.kind === 'truncate') {
          modified = body.subarray(0, change.at % body.length);
        } else if (change.kind === 'append') {
          modified = Uint8Array.from([...body, ...change.extra]);
        } else {
          const at = change.at % (body.length + 1);
          modified = Uint8Array.from([...body.subarray(0, at), change.byte, ...body.subarray(at)]);
        }
        const outcome = await verifyWebhook(
          { body: modified, headers: signed.headers },
          { ...options, now, payload: 'raw' },
        ).then(
          () => 'verified',
          (error: unknown) => (isWebhookVerificationError(error) ? error.code : error),
        );
        if (options.scheme === 'basic') {
          // Basic auth does not cover the body: modification is out of its reach by design
          expect(['verified', 'empty_body']).toContain(outcome);
        } else {
          expect(outcome).toBe(modified.length === 0 ? 'empty_body' : 'no_matching_signature');
        }
      }),
      runs,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { schemeError, type WebhookScheme } from './scheme';
import { signWebhook } from './sign';
import { digestId, expectRejection } from './test-support';
import type { VerifyWebhookOptions } from './types';
import { createWebhookVerifier, verifyWebhook } from './verify';

const secret = 'whsec_shared_tests';
const t = 1_700_000_000;
const now = () => t * 1000;
const options: VerifyWebhookOptions = { scheme: 'stripe', secret, now };
const body = JSON.stringify({ id: 'evt_shared', object: 'event', data: { object: { amount: 1200, note: 'café ☕' } } });
const bytes = new TextEncoder().encode(body);
/** What every successful verification of `body` must report. */
const shared = { id: 'evt_shared', type: undefined, deliveryId: null, timestamp: t, payload: JSON.parse(body) };

async function stripeHeaders(payload: string | Uint8Array, timestamp = t): Promise<Record<string, string>> {
  return (await signWebhook({ scheme: 'stripe', secret, body: payload, timestamp })).headers;
}

describe('verifyWebhook input forms', () => {
  it('accepts a Request, a string, a Buffer, a Uint8Array and an ArrayBuffer body', async () => {
    const headers = await stripeHeaders(body);
    const inputs = [
      new Request('http://localhost/hook', { method: 'POST', body, headers }),
      { body, headers },
      { body: Buffer.from(body), headers },
      { body: bytes, headers },
      { body: bytes.slice().buffer, headers },
      { body, headers: new Headers(headers) },
    ];
    for (const input of inputs) {
      const event = await verifyWebhook(input, options);
      expect(event.id).toBe('evt_shared');
      expect(event.payload).toEqual(JSON.parse(body));
      expect(Buffer.from(event.rawBody).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('reads header records in any letter case, and string-array values of length one', async () => {
    const { 'stripe-signature': signature = '' } = await stripeHeaders(body);
    for (const headers of [{ 'Stripe-Signature': signature }, { 'STRIPE-SIGNATURE': [signature] }]) {
      await expect(verifyWebhook({ body, headers }, options)).resolves.toMatchObject(shared);
    }
  });

  it('hashes the raw bytes: the same JSON re-serialized does not verify', async () => {
    const headers = await stripeHeaders(body);
    const reserialized = JSON.stringify(JSON.parse(body), null, 2);
    await expectRejection(verifyWebhook({ body: reserialized, headers }, options), 'no_matching_signature');
  });

  it('keeps rawBody of a string body through spread and structuredClone', async () => {
    const event = await verifyWebhook({ body, headers: await stripeHeaders(body) }, options);
    expect(Object.keys(event)).toContain('rawBody');
    expect(Buffer.from({ ...event }.rawBody).toString()).toBe(body);
    expect(Buffer.from(structuredClone(event).rawBody).toString()).toBe(body);
    expect(event.rawBody).toBe(event.rawBody);
  });

  it('returns the raw bytes untouched with payload: raw', async () => {
    const headers = await stripeHeaders(bytes);
    const event = await verifyWebhook({ body: bytes, headers }, { ...options, payload: 'raw' });
    expect(event.payload).toBe(event.rawBody);
    expect(Buffer.from(event.payload).toString()).toBe(body);
  });

  it('createWebhookVerifier checks options once and verifies many deliveries', async () => {
    const verify = createWebhookVerifier(options);
    const headers = await stripeHeaders(body);
    await expect(verify({ body, headers })).resolves.toMatchObject(shared);
    await expectRejection(verify({ body: `${body} `, headers }), 'no_matching_signature');
    expect(() => createWebhookVerifier({ ...options, secret: ' whsec_x' })).toThrow(
      expect.objectContaining({ code: 'invalid_secret' }),
    );
  });

  it('sees changes to a reused options object between calls', async () => {
    const reused: VerifyWebhookOptions = { scheme: 'stripe', secret, now };
    const input = { body, headers: await stripeHeaders(body) };
    await expect(verifyWebhook(input, reused)).resolves.toMatchObject(shared);
    reused.secret = 'whsec_rotated_away';
    await expectRejection(verifyWebhook(input, reused), 'no_matching_signature');
    const list = ['whsec_rotated_away'];
    reused.secret = list;
    await expectRejection(verifyWebhook(input, reused), 'no_matching_signature');
    list.push(secret);
    await expect(verifyWebhook(input, reused)).resolves.toMatchObject(shared);
    reused.now = () => (t + 1000) * 1000;
    await expectRejection(verifyWebhook(input, reused), 'timestamp_too_old');
  });

  it('never mutates the caller options', async () => {
    const frozen = Object.freeze({ ...options, secret: Object.freeze([secret]) as readonly string[] });
    const headers = await stripeHeaders(body);
    await expect(verifyWebhook({ body, headers }, frozen)).resolves.toMatchObject(shared);
  });

  it('accepts secrets given as objects with reveal(), such as the vault Secret', async () => {
    const headers = await stripeHeaders(body);
    await expect(
      verifyWebhook({ body, headers }, { ...options, secret: { reveal: () => secret } }),
    ).resolves.toMatchObject(shared);
  });
});

/** A scheme of our own: a shared token, with the type, the delivery id and the event id where the test puts them. */
function tokenScheme(extra: Partial<WebhookScheme> = {}): WebhookScheme {
  return {
    name: 'token',
    verify(request, secrets) {
      if (!secrets.includes(request.header('x-token') ?? '')) {
        throw schemeError('token', 'no_matching_signature', 'wrong token', 'x-token');
      }
      return { timestamp: null, type: request.header('x-kind'), deliveryId: request.header('x-delivery') };
    },
    sign: (request) => ({ 'x-token': request.secrets[0] ?? '' }),
    ...extra,
  };
}

describe('verifyWebhook event id, type and delivery id', () => {
  it('reads the type from the payload only when it is a non-empty string of a JSON object', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['{"id":"evt_t","type":"invoice.paid"}', 'invoice.paid'],
      ['{"id":"evt_t","type":""}', undefined],
      ['{"id":"evt_t","type":7}', undefined],
      ['{"id":"evt_t","data":{"type":"nested"}}', undefined],
      ['[1,2]', undefined],
      ['"invoice.paid"', undefined],
      ['null', undefined],
    ];
    for (const [text, type] of cases) {
      const event = await verifyWebhook({ body: text, headers: await stripeHeaders(text) }, options);
      expect([event.type, event.payload]).toEqual([type, JSON.parse(text)]);
      // a Stripe payload that is not an object with a string id falls back to a digest of the signed body
      expect(event.id).toBe(text.startsWith('{') ? 'evt_t' : digestId(text));
    }
  });

  it('reports the type and the payload id with payload: raw too', async () => {
    const text = '{"id":"evt_raw","type":"invoice.paid"}';
    const event = await verifyWebhook(
      { body: text, headers: await stripeHeaders(text) },
      { ...options, payload: 'raw' },
    );
    expect([event.id, event.type, new TextDecoder().decode(event.payload)]).toEqual(['evt_raw', 'invoice.paid', text]);
  });

  it('takes the type and delivery id a custom scheme reads from headers, and its payloadId', async () => {
    const headers = { 'x-token': 'tok', 'x-kind': 'thing.happened', 'x-delivery': 'dlv_1' };
    const text = '{"uid":"u_1","type":"ignored.when.a.header.has.it"}';
    const plain = await verifyWebhook({ body: text, headers }, { scheme: tokenScheme(), secret: 'tok' });
    expect(plain).toMatchObject({
      id: digestId(text),
      type: 'thing.happened',
      deliveryId: 'dlv_1',
      scheme: 'token',
      payload: JSON.parse(text),
    });
    const withId = tokenScheme({ payloadId: (payload) => (payload as { uid?: string }).uid });
    await expect(verifyWebhook({ body: text, headers }, { scheme: withId, secret: 'tok' })).resolves.toMatchObject({
      id: 'u_1',
      type: 'thing.happened',
    });
    // a payloadId that finds nothing usable falls back to the digest
    const odd = tokenScheme({ payloadId: () => 42 as unknown as string });
    await expect(verifyWebhook({ body: text, headers }, { scheme: odd, secret: 'tok' })).resolves.toMatchObject({
      id: digestId(text),
    });
    const bare = await verifyWebhook(
      { body: text, headers: { 'x-token': 'tok' } },
      { scheme: tokenScheme(), secret: 'tok' },
    );
    expect([bare.type, bare.deliveryId]).toEqual(['ignored.when.a.header.has.it', null]);
  });
});

describe('verifyWebhook bad input', () => {
  it('rejects a forged signature and a body with one byte changed or cut short', async () => {
    const headers = await stripeHeaders(body);
    await expectRejection(
      verifyWebhook({ body, headers }, { ...options, secret: 'whsec_attacker' }),
      'no_matching_signature',
    );
    for (let i = 0; i < bytes.length; i += 17) {
      const tampered = bytes.slice();
      tampered[i] = (tampered[i] as number) ^ 1;
      await expectRejection(verifyWebhook({ body: tampered, headers }, options), 'no_matching_signature');
    }
    await expectRejection(
      verifyWebhook({ body: bytes.subarray(0, bytes.length - 1), headers }, options),
      'no_matching_signature',
    );
  });

  it('rejects replayed and future-dated deliveries, with the window set by tolerance and maxFutureSkew', async () => {
    const headers = await stripeHeaders(body);
    await expect(verifyWebhook({ body, headers }, { ...options, now: () => (t + 300) * 1000 })).resolves.toMatchObject(
      shared,
    );
    await expectRejection(
      verifyWebhook({ body, headers }, { ...options, now: () => (t + 301) * 1000 }),
      'timestamp_too_old',
    );
    await expect(
      verifyWebhook({ body, headers }, { ...options, now: () => (t + 3600) * 1000, tolerance: 3600 }),
    ).resolves.toMatchObject(shared);
    await expect(
      verifyWebhook(
        { body, headers },
        { ...options, now: () => (t + 1e6) * 1000, tolerance: Number.POSITIVE_INFINITY },
      ),
    ).resolves.toMatchObject(shared);
    await expectRejection(
      verifyWebhook({ body, headers }, { ...options, now: () => (t - 301) * 1000 }),
      'timestamp_in_future',
    );
    await expectRejection(
      verifyWebhook({ body, headers }, { ...options, now: () => (t - 10) * 1000, maxFutureSkew: 5 }),
      'timestamp_in_future',
    );
  });

  it('fails closed with invalid_options when the clock gives no number, rather than skipping the window', async () => {
    const headers = await stripeHeaders(body, t - 10_000); // far outside the window
    for (const clock of [() => Number.NaN, () => undefined, () => 'soon']) {
      await expectRejection(
        verifyWebhook({ body, headers }, { ...options, now: clock as () => number }),
        'invalid_options',
      );
    }
  });

  it('checks the signature before the timestamp: a forged old delivery is reported as forged', async () => {
    const headers = await stripeHeaders(body, t - 10_000);
    await expectRejection(
      verifyWebhook({ body, headers }, { ...options, secret: 'whsec_other' }),
      'no_matching_signature',
    );
  });

  it('rejects missing and doubled headers', async () => {
    const { 'stripe-signature': signature = '' } = await stripeHeaders(body);
    await expectRejection(verifyWebhook({ body, headers: {} }, options), 'missing_header');
    await expectRejection(verifyWebhook({ body, headers: { 'stripe-signature': [] } }, options), 'missing_header');
    await expectRejection(
      verifyWebhook({ body, headers: { 'stripe-signature': signature, 'Stripe-Signature': signature } }, options),
      'duplicate_header',
    );
    await expectRejection(
      verifyWebhook({ body, headers: { 'stripe-signature': [signature, signature] } }, options),
      'duplicate_header',
    );
    const doubled = new Headers();
    doubled.append('stripe-signature', signature);
    doubled.append('stripe-signature', signature);
    await expectRejection(verifyWebhook({ body, headers: doubled }, options), 'duplicate_header');
  });

  it('rejects empty, oversized, non-UTF-8 and non-JSON bodies', async () => {
    await expectRejection(verifyWebhook({ body: '', headers: await stripeHeaders('') }, options), 'empty_body');
    await expectRejection(verifyWebhook({ body: new Uint8Array(0), headers: {} }, options), 'empty_body');
    const big = JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(2000) });
    const bigHeaders = await stripeHeaders(big);
    await expectRejection(
      verifyWebhook({ body: big, headers: bigHeaders }, { ...options, maxBodyBytes: 1000 }),
      'body_too_large',
    );
    await expectRejection(
      verifyWebhook({ body: Buffer.from(big), headers: bigHeaders }, { ...options, maxBodyBytes: 1000 }),
      'body_too_large',
    );
    // multi-byte characters count as bytes, not UTF-16 units
    const wide = JSON.stringify({ id: 'evt_w', pad: '☕'.repeat(400) });
    await expectRejection(
      verifyWebhook({ body: wide, headers: await stripeHeaders(wide) }, { ...options, maxBodyBytes: 1000 }),
      'body_too_large',
    );
    await expect(
      verifyWebhook({ body: wide, headers: await stripeHeaders(wide) }, { ...options, maxBodyBytes: 1300 }),
    ).resolves.toMatchObject({ id: 'evt_w', payload: JSON.parse(wide) });
    const latin1 = Uint8Array.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]); // {"id":"\xe9"}
    await expectRejection(
      verifyWebhook({ body: latin1, headers: await stripeHeaders(latin1) }, options),
      'invalid_body',
    );
    await expectRejection(
      verifyWebhook({ body: 'id=evt_1', headers: await stripeHeaders('id=evt_1') }, options),
      'invalid_body',
    );
    const bom = `\ufeff${body}`;
    await expectRejection(
      verifyWebhook({ body: Buffer.from(bom), headers: await stripeHeaders(Buffer.from(bom)) }, options),
      'invalid_body',
    );
  });

  it('rejects a Stripe payload without an id only when it cannot produce one', async () => {
    const noId = JSON.stringify({ object: 'event' });
    const event = await verifyWebhook({ body: noId, headers: await stripeHeaders(noId) }, options);
    expect(event.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('rejects an oversized Request body while streaming, even without Content-Length', async () => {
    const big = 'x'.repeat(5000);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode(big));
        if (pulled > 1000) controller.close();
      },
    });
    const request = new Request('http://localhost/hook', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectRejection(verifyWebhook(request, { ...options, maxBodyBytes: 12_000 }), 'body_too_large');
    expect(pulled).toBeLessThan(10);
    const announced = new Request('http://localhost/hook', {
      method: 'POST',
      body: big,
      headers: { 'content-length': String(big.length) },
    });
    await expectRejection(verifyWebhook(announced, { ...options, maxBodyBytes: 100 }), 'body_too_large');
  });

  it('rejects a Request whose body was already read, and an already parsed body object', async () => {
    const headers = await stripeHeaders(body);
    const request = new Request('http://localhost/hook', { method: 'POST', body, headers });
    await request.json();
    await expectRejection(verifyWebhook(request, options), 'body_already_parsed');
    await expectRejection(verifyWebhook({ body: JSON.parse(body) as never, headers }, options), 'body_already_parsed');
  });

  it('rejects secrets with stray whitespace, empty or wrong-kind secrets, and bad options', async () => {
    const input = { body, headers: await stripeHeaders(body) };
    for (const bad of [` ${secret}`, `${secret}\n`, '', 'sk_test_123', [], 42, null]) {
      await expectRejection(verifyWebhook(input, { ...options, secret: bad as string }), 'invalid_secret');
    }
    const badOptions: Array<Partial<Record<keyof VerifyWebhookOptions, unknown>>> = [
      { scheme: 'paypal' },
      { scheme: {} },
      { tolerance: -1 },
      { tolerance: Number.NaN },
      { maxFutureSkew: '300' },
      { maxBodyBytes: 1.5 },
      { now: 5 },
      { payload: 'xml' },
    ];
    for (const bad of badOptions) {
      await expectRejection(verifyWebhook(input, { ...options, ...bad } as VerifyWebhookOptions), 'invalid_options');
    }
    await expectRejection(verifyWebhook(input, null as never), 'invalid_options');
  });

  it('rejects inputs that are neither a Request nor { body, headers }', async () => {
    for (const bad of [
      null,
      undefined,
      42,
      'body',
      {},
      { body },
      { headers: {} },
      { body: 42, headers: {} },
      { body, headers: 'x' },
    ]) {
      await expectRejection(verifyWebhook(bad as never, options), 'invalid_input');
    }
  });

  it('wraps anything unexpected thrown while reading the input', async () => {
    const hostile = {
      body,
      headers: new Proxy(
        {},
        {
          get: () => {
            throw new RangeError('boom');
          },
          ownKeys: () => {
            throw new RangeError('boom');
          },
        },
      ),
    };
    const error = await expectRejection(verifyWebhook(hostile, options), 'invalid_input');
    expect((error as Error).cause).toBeInstanceOf(RangeError);
  });
});

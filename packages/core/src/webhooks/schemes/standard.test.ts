import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toBase64 } from '../../internal/encoding';
import { signWebhook } from '../sign';
import { expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';
import { createStandardScheme, generateStandardKeyPair } from './standard';

const secret = `whsec_${toBase64(Uint8Array.from({ length: 32 }, (_, i) => i * 7))}`;
const t = 1_700_000_000;
const body = JSON.stringify({ type: 'user.created', data: { id: 'user_1', email: 'a@example.com' } });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(t * 1000);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('standard scheme', () => {
  it('verifies signatures from the official standardwebhooks package, with the id from webhook-id', async () => {
    const signature = new StandardWebhook(secret).sign('msg_1', new Date(t * 1000), body);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(t), 'webhook-signature': signature };
    const event = await verifyWebhook({ body, headers }, { scheme: 'standard', secret });
    expect(event).toMatchObject({
      id: 'msg_1',
      type: 'user.created',
      deliveryId: 'msg_1',
      timestamp: t,
      scheme: 'standard',
      payload: JSON.parse(body),
    });
  });

  it('verifies svix-* headers signed by the official svix package', async () => {
    const signature = new SvixWebhook(secret).sign('msg_2', new Date(t * 1000), body);
    const headers = { 'svix-id': 'msg_2', 'svix-timestamp': String(t), 'svix-signature': signature };
    await expect(verifyWebhook({ body, headers }, { scheme: 'standard', secret })).resolves.toMatchObject({
      id: 'msg_2',
      type: 'user.created',
      deliveryId: 'msg_2',
      payload: JSON.parse(body),
    });
  });

  it('signs deliveries that standardwebhooks and svix accept', async () => {
    const signed = await signWebhook({ scheme: 'standard', secret, body, id: 'msg_3' });
    expect(new StandardWebhook(secret).verify(body, signed.headers)).toEqual(JSON.parse(body));
    const svixSigned = await signWebhook({
      scheme: createStandardScheme({ headerNames: 'svix' }),
      secret,
      body,
      id: 'msg_4',
    });
    expect(Object.keys(svixSigned.headers)).toContain('svix-signature');
    // svix 2.x's verify returns nothing: accepting means not throwing, and the tampered copy must throw
    expect(() => new SvixWebhook(secret).verify(body, svixSigned.headers)).not.toThrow();
    expect(() => new SvixWebhook(secret).verify(`${body} `, svixSigned.headers)).toThrow();
  });

  it('accepts the secret without its whsec_ prefix, and any of several signatures and secrets', async () => {
    const other = `whsec_${toBase64(new Uint8Array(32).fill(9))}`;
    const signed = await signWebhook({ scheme: 'standard', secret: [other, secret], body, id: 'msg_5' });
    expect(signed.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    await expect(verifyWebhook(signed, { scheme: 'standard', secret: secret.slice(6) })).resolves.toMatchObject({
      id: 'msg_5',
      payload: JSON.parse(body),
    });
    const mixed = {
      ...signed.headers,
      'webhook-signature': `v2,abc v1,${toBase64(new Uint8Array(32))} ${signed.headers['webhook-signature']}`,
    };
    await expect(verifyWebhook({ body, headers: mixed }, { scheme: 'standard', secret })).resolves.toMatchObject({
      id: 'msg_5',
      payload: JSON.parse(body),
    });
  });

  it('verifies v1a (Ed25519) signatures against the whpk_ public key, and rejects them for another key', async () => {
    const { secretKey, publicKey } = await generateStandardKeyPair();
    expect(secretKey).toMatch(/^whsk_/);
    expect(publicKey).toMatch(/^whpk_/);
    const signed = await signWebhook({ scheme: 'standard', secret: secretKey, body, id: 'msg_6' });
    expect(signed.headers['webhook-signature']).toMatch(/^v1a,/);
    await expect(verifyWebhook(signed, { scheme: 'standard', secret: publicKey })).resolves.toMatchObject({
      id: 'msg_6',
      type: 'user.created',
      payload: JSON.parse(body),
    });
    const stranger = await generateStandardKeyPair();
    await expectRejection(
      verifyWebhook(signed, { scheme: 'standard', secret: stranger.publicKey }),
      'no_matching_signature',
    );
    // an HMAC secret does not accept an Ed25519 signature, nor the reverse
    await expectRejection(verifyWebhook(signed, { scheme: 'standard', secret }), 'no_matching_signature');
    const hmacSigned = await signWebhook({ scheme: 'standard', secret, body, id: 'msg_6' });
    await expectRejection(
      verifyWebhook(hmacSigned, { scheme: 'standard', secret: publicKey }),
      'no_matching_signature',
    );
    await expectRejection(verifyWebhook(signed, { scheme: 'standard', secret: secretKey }), 'invalid_secret');
  });

  it('binds the id and the timestamp into the signature', async () => {
    const signed = await signWebhook({ scheme: 'standard', secret, body, id: 'msg_7' });
    const swapId = { ...signed.headers, 'webhook-id': 'msg_8' };
    await expectRejection(
      verifyWebhook({ body, headers: swapId }, { scheme: 'standard', secret }),
      'no_matching_signature',
    );
    const swapTime = { ...signed.headers, 'webhook-timestamp': String(t + 1) };
    await expectRejection(
      verifyWebhook({ body, headers: swapTime }, { scheme: 'standard', secret }),
      'no_matching_signature',
    );
  });

  it('rejects missing, doubled and malformed headers with their own codes', async () => {
    const signed = await signWebhook({ scheme: 'standard', secret, body, id: 'msg_9' });
    const h = signed.headers;
    const cases: Array<[Record<string, string | string[]>, string]> = [
      [{ ...h, 'webhook-id': '' }, 'missing_header'],
      [{ 'webhook-id': 'msg_9', 'webhook-signature': h['webhook-signature'] ?? '' }, 'missing_header'],
      [{ ...h, 'webhook-timestamp': `${t}, ${t}` }, 'duplicate_header'],
      [{ ...h, 'webhook-signature': [h['webhook-signature'] ?? '', h['webhook-signature'] ?? ''] }, 'duplicate_header'],
      [{ ...h, 'webhook-timestamp': '17e8' }, 'malformed_header'],
      [{ ...h, 'webhook-timestamp': '-1' }, 'malformed_header'],
      [{ ...h, 'webhook-signature': 'v1' }, 'malformed_header'],
      [{ ...h, 'webhook-signature': 'v1,not base64!' }, 'malformed_header'],
      [{ ...h, 'webhook-signature': 'v1,AAAA' }, 'malformed_header'],
      // the right length, but not base64: checked once no signature matched
      [{ ...h, 'webhook-signature': `v1,${'*'.repeat(43)}=` }, 'malformed_header'],
      [{ ...h, 'webhook-signature': `v1,${'A'.repeat(44)}` }, 'malformed_header'],
      // a malformed entry is reported even when another entry matches
      [{ ...h, 'webhook-signature': `${h['webhook-signature']} v1,${'*'.repeat(43)}=` }, 'malformed_header'],
      [{ ...h, 'webhook-signature': `v1,${'*'.repeat(43)}= ${h['webhook-signature']}` }, 'malformed_header'],
      [{ ...h, 'webhook-signature': 'v2,AAAA' }, 'no_matching_signature'],
    ];
    for (const [headers, code] of cases) {
      await expectRejection(verifyWebhook({ body, headers }, { scheme: 'standard', secret }), code);
    }
  });

  it('rejects secrets that are not Standard Webhooks keys', async () => {
    const signed = await signWebhook({ scheme: 'standard', secret, body });
    for (const bad of ['whsec_***', 'whpk_AAAA', ` ${secret}`, `${secret}\n`, 'whsk_AAAA']) {
      await expectRejection(verifyWebhook(signed, { scheme: 'standard', secret: bad }), 'invalid_secret');
    }
  });
});

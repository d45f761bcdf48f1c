import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../sign';
import { expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';
import { hmacScheme } from './hmac';

const body = JSON.stringify({ id: 820982911946154500, email: 'jon@example.com' });
const secret = 'shopify app secret';

const shopify = hmacScheme({
  name: 'shopify',
  header: 'X-Shopify-Hmac-Sha256',
  encoding: 'base64',
  idHeader: 'X-Shopify-Webhook-Id',
});

describe('hmac scheme', () => {
  it('verifies a Shopify-style delivery signed independently with node:crypto', async () => {
    const headers = {
      'X-Shopify-Hmac-Sha256': createHmac('sha256', secret).update(body).digest('base64'),
      'X-Shopify-Webhook-Id': 'b54557e4',
    };
    const event = await verifyWebhook({ body, headers }, { scheme: shopify, secret });
    expect(event).toMatchObject({ id: 'b54557e4', timestamp: null, scheme: 'shopify' });
  });

  it('supports sha512, a prefix, a timestamp header and a signed-content template', async () => {
    const scheme = hmacScheme({
      header: 'x-signature',
      algorithm: 'sha512',
      prefix: 'v1=',
      timestampHeader: 'x-timestamp',
      idHeader: 'x-id',
      signedContent: 'v1:{id}:{timestamp}:{body}',
    });
    const t = 1_700_000_000;
    const mac = createHmac('sha512', secret).update(`v1:evt_9:${t}:${body}`).digest('hex');
    const headers = { 'x-signature': `v1=${mac}`, 'x-timestamp': String(t), 'x-id': 'evt_9' };
    const now = () => t * 1000;
    await expect(verifyWebhook({ body, headers }, { scheme, secret, now })).resolves.toMatchObject({
      id: 'evt_9',
      timestamp: t,
    });
    const signed = await signWebhook({ scheme, secret, body, timestamp: t, id: 'evt_9' });
    expect(signed.headers).toMatchObject(headers);
    await expectRejection(
      verifyWebhook({ body, headers }, { scheme, secret, now: () => (t + 600) * 1000 }),
      'timestamp_too_old',
    );
    await expectRejection(
      verifyWebhook({ body, headers: { ...headers, 'x-timestamp': String(t + 1) } }, { scheme, secret, now }),
      'no_matching_signature',
    );
  });

  it('takes the id from the payload, or a body digest, when there is no id header', async () => {
    const plain = hmacScheme({ header: 'x-sig' });
    const signed = await signWebhook({ scheme: plain, secret, body: '{"id":42,"kind":"order"}' });
    await expect(verifyWebhook(signed, { scheme: plain, secret })).resolves.toMatchObject({ id: '42' });
    const text = 'not json at all';
    const raw = await signWebhook({ scheme: plain, secret, body: text });
    const event = await verifyWebhook(raw, { scheme: plain, secret, payload: 'raw' });
    expect(event.id).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
    expect(new TextDecoder().decode(event.payload)).toBe(text);
  });

  it('rejects bad configurations with invalid_options', () => {
    const bad: unknown[] = [
      {},
      { header: 'x', algorithm: 'md5' },
      { header: 'x', encoding: 'base32' },
      { header: 'x', signedContent: '{body}.{timestamp}' },
      { header: 'x', signedContent: '{timestamp}.{body}' },
      { header: 'x', signedContent: '{id}.{body}' },
    ];
    for (const config of bad) {
      expect(() => hmacScheme(config as Parameters<typeof hmacScheme>[0])).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    }
  });

  it('rejects malformed and mismatched signatures', async () => {
    const headers = (value: string) => ({ 'x-shopify-hmac-sha256': value, 'x-shopify-webhook-id': 'x' });
    await expectRejection(
      verifyWebhook({ body, headers: headers('***') }, { scheme: shopify, secret }),
      'malformed_header',
    );
    await expectRejection(
      verifyWebhook({ body, headers: headers('AAAA') }, { scheme: shopify, secret }),
      'malformed_header',
    );
    const wrong = createHmac('sha256', 'other').update(body).digest('base64');
    await expectRejection(
      verifyWebhook({ body, headers: headers(wrong) }, { scheme: shopify, secret }),
      'no_matching_signature',
    );
  });
});

import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../sign';
import { digestId, expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';
import { hmacScheme } from './hmac';

const body = JSON.stringify({ id: 820982911946154500, email: 'jon@example.com' });
const secret = 'shopify app secret';

const shopify = hmacScheme({
  name: 'shopify',
  header: 'X-Shopify-Hmac-Sha256',
  encoding: 'base64',
  idHeader: 'X-Shopify-Webhook-Id',
  typeHeader: 'X-Shopify-Topic',
});

describe('hmac scheme', () => {
  it('verifies a Shopify-style delivery signed independently with node:crypto, type from the topic header', async () => {
    const headers = {
      'X-Shopify-Hmac-Sha256': createHmac('sha256', secret).update(body).digest('base64'),
      'X-Shopify-Webhook-Id': 'b54557e4',
      'X-Shopify-Topic': 'orders/create',
    };
    const event = await verifyWebhook({ body, headers }, { scheme: shopify, secret });
    // the payload id is the order's, and the webhook id header is not signed: the id is a body digest
    expect(event).toMatchObject({
      id: digestId(body),
      type: 'orders/create',
      deliveryId: 'b54557e4',
      timestamp: null,
      scheme: 'shopify',
      payload: JSON.parse(body),
    });
  });

  it('keys a replay under a new unsigned id header to the same id, and two updates of one order apart', async () => {
    const captured = await signWebhook({ scheme: shopify, secret, body, id: 'w-1', type: 'orders/updated' });
    const replay = { ...captured.headers, 'x-shopify-webhook-id': 'w-2' };
    const first = await verifyWebhook(captured, { scheme: shopify, secret });
    const again = await verifyWebhook({ body, headers: replay }, { scheme: shopify, secret });
    expect([first.id, first.deliveryId]).toEqual([digestId(body), 'w-1']);
    expect([again.id, again.deliveryId]).toEqual([digestId(body), 'w-2']);
    const updated = JSON.stringify({ id: 820982911946154500, email: 'jon@example.org' });
    const second = await signWebhook({ scheme: shopify, secret, body: updated, id: 'w-3', type: 'orders/updated' });
    expect((await verifyWebhook(second, { scheme: shopify, secret })).id).toBe(digestId(updated));
    await expectRejection(signWebhook({ scheme: shopify, secret, body }), 'invalid_options');
  });

  it('uses an id header as the event id when signedContent signs it', async () => {
    const scheme = hmacScheme({ header: 'x-sig', idHeader: 'x-id', signedContent: '{id}.{body}' });
    const signed = await signWebhook({ scheme, secret, body, id: 'evt_signed' });
    const event = await verifyWebhook(signed, { scheme, secret });
    expect(event).toMatchObject({ id: 'evt_signed', deliveryId: 'evt_signed', type: undefined });
    await expectRejection(
      verifyWebhook({ body, headers: { ...signed.headers, 'x-id': 'evt_other' } }, { scheme, secret }),
      'no_matching_signature',
    );
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
      deliveryId: 'evt_9',
      timestamp: t,
      payload: JSON.parse(body),
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

  it('takes the id from payloadId when given, else a body digest, never from the payload id by itself', async () => {
    const plain = hmacScheme({ header: 'x-sig' });
    const withId = '{"id":42,"event_id":"ev_7","type":"order.paid"}';
    const signed = await signWebhook({ scheme: plain, secret, body: withId });
    await expect(verifyWebhook(signed, { scheme: plain, secret })).resolves.toMatchObject({
      id: digestId(withId),
      type: 'order.paid',
      deliveryId: null,
      payload: JSON.parse(withId),
    });
    const eventIds = hmacScheme({
      header: 'x-sig',
      payloadId: (payload) => (payload as { event_id?: string }).event_id,
    });
    await expect(verifyWebhook(signed, { scheme: eventIds, secret })).resolves.toMatchObject({ id: 'ev_7' });
    const noEventId = await signWebhook({ scheme: plain, secret, body: '{"id":43}' });
    await expect(verifyWebhook(noEventId, { scheme: eventIds, secret })).resolves.toMatchObject({
      id: digestId('{"id":43}'),
      type: undefined,
    });
    const text = 'not json at all';
    const raw = await signWebhook({ scheme: plain, secret, body: text });
    const event = await verifyWebhook(raw, { scheme: plain, secret, payload: 'raw' });
    expect(event.id).toBe(digestId(text));
    expect(event.id).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
    expect(event.type).toBeUndefined();
    expect(new TextDecoder().decode(event.payload)).toBe(text);
  });

  it('refuses a timestampHeader whose timestamp signedContent does not sign (the window would check nothing)', async () => {
    for (const signedContent of ['{body}', '{id}.{body}']) {
      expect(() => hmacScheme({ header: 'x-sig', timestampHeader: 'x-ts', idHeader: 'x-id', signedContent })).toThrow(
        expect.objectContaining({ code: 'invalid_options', message: expect.stringContaining('{timestamp}') }),
      );
    }
    // what such a scheme let through: a genuine delivery restamped at will (here 2001) passed the window
    const signedBody = createHmac('sha256', secret).update(body).digest('hex');
    const unsignedStamp = { 'x-sig': signedBody, 'x-ts': '978307200' };
    const signedStamp = hmacScheme({ header: 'x-sig', timestampHeader: 'x-ts' });
    await expectRejection(
      verifyWebhook({ body, headers: unsignedStamp }, { scheme: signedStamp, secret }),
      'no_matching_signature',
    );
  });

  it('rejects bad configurations with invalid_options', () => {
    const bad: unknown[] = [
      {},
      { header: 'x', algorithm: 'md5' },
      { header: 'x', encoding: 'base32' },
      { header: 'x', signedContent: '{body}.{timestamp}' },
      { header: 'x', signedContent: '{timestamp}.{body}' },
      { header: 'x', signedContent: '{id}.{body}' },
      { header: 'x', timestampHeader: 'x-ts', signedContent: '{body}' },
      { header: 'x', typeHeader: '' },
      { header: 'x', payloadId: 'id' },
    ];
    for (const config of bad) {
      expect(() => hmacScheme(config as Parameters<typeof hmacScheme>[0])).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    }
  });

  it('rejects malformed and mismatched signatures', async () => {
    const headers = (value: string) => ({
      'x-shopify-hmac-sha256': value,
      'x-shopify-webhook-id': 'x',
      'x-shopify-topic': 'orders/create',
    });
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

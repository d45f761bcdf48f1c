import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../sign';
import { expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';

const secret = 'whsec_test_secret';
const t = 1_700_000_000;
const now = () => t * 1000;
const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'charge.succeeded' });
const header = (value: string) => ({ body, headers: { 'stripe-signature': value } });

describe('stripe scheme', () => {
  it('verifies a header made by the official stripe package, and reads the id from the payload', async () => {
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t });
    const event = await verifyWebhook(header(signature), { scheme: 'stripe', secret, now });
    expect(event).toMatchObject({
      id: 'evt_1',
      type: 'charge.succeeded',
      deliveryId: null,
      timestamp: t,
      scheme: 'stripe',
      payload: JSON.parse(body),
    });
    expect(new TextDecoder().decode(event.rawBody)).toBe(body);
  });

  it('produces headers the official stripe package accepts', async () => {
    const signed = await signWebhook({ scheme: 'stripe', secret, body, timestamp: t });
    const event = Stripe.webhooks.constructEvent(
      body,
      signed.headers['stripe-signature'] ?? '',
      secret,
      300,
      undefined,
      t,
    );
    expect(event.id).toBe('evt_1');
  });

  it('accepts any of several v1 signatures and any of several secrets (rotation), ignoring v0', async () => {
    const signed = await signWebhook({ scheme: 'stripe', secret: ['whsec_old', secret], body, timestamp: t });
    const value = `${signed.headers['stripe-signature']},v0=${'0'.repeat(64)}`;
    await expect(verifyWebhook(header(value), { scheme: 'stripe', secret, now })).resolves.toMatchObject({
      id: 'evt_1',
      type: 'charge.succeeded',
      payload: JSON.parse(body),
    });
    const one = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t });
    await expect(
      verifyWebhook(header(one), { scheme: 'stripe', secret: ['whsec_other', secret], now }),
    ).resolves.toMatchObject({ id: 'evt_1', payload: JSON.parse(body) });
  });

  it('keeps the event id of a retry, which Stripe re-signs with a new timestamp', async () => {
    const first = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t });
    const retry = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t + 60 });
    const a = await verifyWebhook(header(first), { scheme: 'stripe', secret, now });
    const b = await verifyWebhook(header(retry), { scheme: 'stripe', secret, now: () => (t + 60) * 1000 });
    expect([a.id, a.timestamp, b.id, b.timestamp]).toEqual(['evt_1', t, 'evt_1', t + 60]);
  });

  it('rejects forged, tampered and stale deliveries with their own codes', async () => {
    const genuine = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t });
    await expectRejection(
      verifyWebhook(header(genuine), { scheme: 'stripe', secret: 'whsec_wrong', now }),
      'no_matching_signature',
    );
    await expectRejection(
      verifyWebhook(
        { body: body.replace('evt_1', 'evt_2'), headers: { 'stripe-signature': genuine } },
        { scheme: 'stripe', secret, now },
      ),
      'no_matching_signature',
    );
    await expectRejection(
      verifyWebhook(header(genuine), { scheme: 'stripe', secret, now: () => (t + 301) * 1000 }),
      'timestamp_too_old',
    );
    await expectRejection(
      verifyWebhook(header(genuine), { scheme: 'stripe', secret, now: () => (t - 301) * 1000 }),
      'timestamp_in_future',
    );
  });

  it('rejects malformed Stripe-Signature headers', async () => {
    const cases: Array<[string, string]> = [
      [`v1=${'a'.repeat(64)}`, 'malformed_header'],
      [`t=abc,v1=${'a'.repeat(64)}`, 'malformed_header'],
      [`t=${t},v1=zz`, 'malformed_header'],
      [`t=${t}`, 'no_matching_signature'],
      [`t=${t},garbage`, 'malformed_header'],
      [`t=${t},v1=${'a'.repeat(64)}, t=${t},v1=${'a'.repeat(64)}`, 'duplicate_header'],
    ];
    for (const [value, code] of cases) {
      await expectRejection(verifyWebhook(header(value), { scheme: 'stripe', secret, now }), code);
    }
  });
});

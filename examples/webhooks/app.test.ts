import type { AddressInfo } from 'node:net';
import { signWebhook, type VerifiedWebhook } from '@ballast/core/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookApp } from './app';

const stripeSecret = 'whsec_example_app';
const standardSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
let close: (() => Promise<void>) | undefined;

async function start(clock = { ms: Date.now() }, onEvent?: (event: VerifiedWebhook) => void) {
  const events: VerifiedWebhook[] = [];
  const server = createWebhookApp({
    stripeSecret,
    standardSecret,
    now: () => clock.ms,
    onEvent: (e) => {
      onEvent?.(e);
      events.push(e);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, events, clock };
}
afterEach(async () => {
  await close?.();
});

async function post(url: string, body: string, headers: Record<string, string>) {
  const response = await fetch(url, { method: 'POST', body, headers });
  return { status: response.status, answer: await response.json() };
}

describe('examples/webhooks app', () => {
  it('accepts a genuine Stripe delivery once and reports the duplicate', async () => {
    const { url, events } = await start();
    const body = JSON.stringify({ id: 'evt_app_1', object: 'event', type: 'invoice.paid' });
    const signed = await signWebhook({ scheme: 'stripe', secret: stripeSecret, body });
    expect(await post(`${url}/webhooks/stripe`, body, signed.headers)).toEqual({
      status: 200,
      answer: { status: 'accepted', id: 'evt_app_1' },
    });
    expect((await post(`${url}/webhooks/stripe`, body, signed.headers)).answer.status).toBe('duplicate');
    expect(events.map((e) => e.id)).toEqual(['evt_app_1']);
  });

  it('answers 500 when the logic throws, and runs it on the retry (not reported as a duplicate)', async () => {
    let failures = 1;
    const { url, events } = await start(undefined, () => {
      if (failures-- > 0) throw new Error('database down');
    });
    const body = JSON.stringify({ id: 'evt_app_retry', object: 'event', type: 'invoice.paid' });
    const signed = await signWebhook({ scheme: 'stripe', secret: stripeSecret, body });
    const first = await fetch(`${url}/webhooks/stripe`, { method: 'POST', body, headers: signed.headers });
    expect(first.status).toBe(500);
    expect(await post(`${url}/webhooks/stripe`, body, signed.headers)).toEqual({
      status: 200,
      answer: { status: 'accepted', id: 'evt_app_retry' },
    });
    expect(events.map((e) => e.id)).toEqual(['evt_app_retry']);
  });

  it('rejects forged, replayed and oversized deliveries with their codes', async () => {
    const clock = { ms: 1_700_000_000_000 };
    const { url, events } = await start(clock);
    const body = JSON.stringify({ type: 'contact.created', data: { id: 'c_1' } });
    const forged = await signWebhook({
      scheme: 'standard',
      secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
      body,
      now: () => clock.ms,
    });
    expect(await post(`${url}/webhooks/standard`, body, forged.headers)).toEqual({
      status: 401,
      answer: { status: 'rejected', code: 'no_matching_signature' },
    });
    const genuine = await signWebhook({ scheme: 'standard', secret: standardSecret, body, now: () => clock.ms });
    clock.ms += 600_000;
    expect((await post(`${url}/webhooks/standard`, body, genuine.headers)).answer.code).toBe('timestamp_too_old');
    const big = JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(70_000) });
    const signedBig = await signWebhook({ scheme: 'stripe', secret: stripeSecret, body: big, now: () => clock.ms });
    expect(await post(`${url}/webhooks/stripe`, big, signedBig.headers)).toEqual({
      status: 413,
      answer: { status: 'rejected', code: 'body_too_large' },
    });
    expect(events).toHaveLength(0);
  });
});

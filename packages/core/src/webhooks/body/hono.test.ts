import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../internal/encoding';
import { isWebhookVerificationError } from '../errors';
import { signWebhook } from '../sign';
import { verifyWebhook } from '../verify';
import { readRequestBody } from './request';

const secret = `whsec_${toBase64(new Uint8Array(32).fill(5))}`;
const body = JSON.stringify({ type: 'email.sent', data: { id: 're_1' } });
const app = new Hono();

app.post('/hooks/resend', async (c) => {
  try {
    const raw = await readRequestBody(c.req.raw, { maxBytes: 1024 });
    const event = await verifyWebhook({ body: raw, headers: c.req.raw.headers }, { scheme: 'standard', secret });
    return c.json({ id: event.id });
  } catch (error) {
    const code = isWebhookVerificationError(error) ? error.code : 'crash';
    return c.text(code, code === 'body_too_large' ? 413 : 400);
  }
});
app.post('/hooks/after-json', async (c) => {
  await c.req.json();
  try {
    await readRequestBody(c.req.raw);
    return c.text('unexpected');
  } catch (error) {
    return c.text(isWebhookVerificationError(error) ? error.code : 'crash', 400);
  }
});

let server: ReturnType<typeof serve>;
let base = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('readRequestBody with Hono on @hono/node-server', () => {
  it('verifies svix-style deliveries from the raw request', async () => {
    const signed = await signWebhook({ scheme: 'standard', secret, body, id: 'msg_h1' });
    const response = await fetch(`${base}/hooks/resend`, { method: 'POST', body, headers: signed.headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: 'msg_h1' });
  });

  it('answers 413 past the limit', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(3000) });
    const signed = await signWebhook({ scheme: 'standard', secret, body: big });
    const response = await fetch(`${base}/hooks/resend`, { method: 'POST', body: big, headers: signed.headers });
    expect([response.status, await response.text()]).toEqual([413, 'body_too_large']);
  });

  it('reports a body another middleware already read', async () => {
    const response = await fetch(`${base}/hooks/after-json`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect([response.status, await response.text()]).toEqual([400, 'body_already_parsed']);
  });

  it('also works through app.request without a server', async () => {
    const signed = await signWebhook({ scheme: 'standard', secret, body, id: 'msg_h2' });
    const response = await app.request('/hooks/resend', { method: 'POST', body, headers: signed.headers });
    expect(await response.json()).toEqual({ id: 'msg_h2' });
  });
});

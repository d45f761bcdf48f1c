import { createServer } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWebhookVerificationError } from '../errors';
import { signWebhook } from '../sign';
import { verifyWebhook } from '../verify';
import { readExpressBody } from './express';
import { listen } from './test-server';

const secret = 'whsec_express';
const body = JSON.stringify({ id: 'evt_express', object: 'event' });
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  const app = express();
  const handler: express.RequestHandler = async (req, res) => {
    try {
      const raw = await readExpressBody(req, { maxBytes: 1024 });
      const event = await verifyWebhook({ body: raw, headers: req.headers }, { scheme: 'stripe', secret });
      res.json({ id: event.id });
    } catch (error) {
      const code = isWebhookVerificationError(error) ? error.code : 'crash';
      res.status(code === 'body_too_large' ? 413 : 400).send(code);
    }
  };
  app.post('/stream', handler); // no body parser: read from the stream
  app.post('/raw', express.raw({ type: '*/*', limit: '1mb' }), handler);
  app.post('/parsed', express.json(), handler); // the classic mistake
  server = await listen(createServer(app));
});
afterAll(() => server.close());

async function post(path: string, payload: string, headers: Record<string, string>) {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body: payload, headers });
  return { status: response.status, text: await response.text() };
}

describe('readExpressBody with a real Express app', () => {
  it('verifies from the stream and from express.raw()', async () => {
    const signed = await signWebhook({ scheme: 'stripe', secret, body });
    for (const path of ['/stream', '/raw']) {
      expect(await post(path, body, signed.headers)).toEqual({ status: 200, text: '{"id":"evt_express"}' });
    }
  });

  it('reports a body already parsed by express.json() instead of a confusing signature failure', async () => {
    const signed = await signWebhook({ scheme: 'stripe', secret, body });
    expect(await post('/parsed', body, signed.headers)).toEqual({ status: 400, text: 'body_already_parsed' });
  });

  it('enforces the byte limit on both paths', async () => {
    const big = JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(4000) });
    const signed = await signWebhook({ scheme: 'stripe', secret, body: big });
    for (const path of ['/stream', '/raw']) {
      expect(await post(path, big, signed.headers)).toEqual({ status: 413, text: 'body_too_large' });
    }
  });

  it('rejects a tampered body', async () => {
    const signed = await signWebhook({ scheme: 'stripe', secret, body });
    expect(await post('/raw', body.replace('express', 'expresz'), signed.headers)).toEqual({
      status: 400,
      text: 'no_matching_signature',
    });
  });
});

import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWebhookVerificationError } from '../errors';
import { signWebhook } from '../sign';
import { digestId, expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';
import { fastifyRawBody, readFastifyBody } from './fastify';

const secret = 'fastify github secret';
const body = JSON.stringify({ action: 'opened' });
const app = Fastify();

beforeAll(async () => {
  await app.register(async (hooks) => {
    fastifyRawBody(hooks, { maxBytes: 1024 });
    hooks.post('/hooks/github', async (request, reply) => {
      try {
        const event = await verifyWebhook(
          { body: readFastifyBody(request), headers: request.headers },
          { scheme: 'github', secret },
        );
        return { id: event.id, deliveryId: event.deliveryId, type: event.type };
      } catch (error) {
        return reply.code(400).send(isWebhookVerificationError(error) ? error.code : 'crash');
      }
    });
  });
  // outside the plugin, Fastify's own JSON parser still applies
  app.post('/parsed', async (request, reply) => {
    try {
      readFastifyBody(request);
      return 'unexpected';
    } catch (error) {
      return reply.code(400).send(isWebhookVerificationError(error) ? error.code : 'crash');
    }
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

const url = (path: string) => {
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}${path}`;
};

describe('fastifyRawBody / readFastifyBody with a real Fastify server', () => {
  it('hands the raw bytes to the handler, and they verify', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'f-1', type: 'issues' });
    const response = await fetch(url('/hooks/github'), { method: 'POST', body, headers: signed.headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: digestId(body), deliveryId: 'f-1', type: 'issues' });
    const forged = await fetch(url('/hooks/github'), { method: 'POST', body: `${body} `, headers: signed.headers });
    expect([forged.status, await forged.text()]).toEqual([400, 'no_matching_signature']);
  });

  it('lets Fastify answer 413 past the limit', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(4000) });
    const signed = await signWebhook({ scheme: 'github', secret, body: big, type: 'issues' });
    const response = await fetch(url('/hooks/github'), { method: 'POST', body: big, headers: signed.headers });
    expect(response.status).toBe(413);
  });

  it('reports a body Fastify parsed as JSON', async () => {
    const response = await fetch(url('/parsed'), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect([response.status, await response.text()]).toEqual([400, 'body_already_parsed']);
  });

  it('checks the limit and the body kind when called directly', async () => {
    expect(readFastifyBody({})).toEqual(new Uint8Array(0));
    await expectRejection(
      Promise.resolve().then(() => readFastifyBody({ body: new Uint8Array(10) }, { maxBytes: 5 })),
      'body_too_large',
    );
    await expectRejection(
      Promise.resolve().then(() => readFastifyBody({ body: 'text' })),
      'body_already_parsed',
    );
  });
});

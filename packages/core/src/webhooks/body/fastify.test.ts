import { once } from 'node:events';
import { connect } from 'node:net';
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
const handled: string[] = [];

beforeAll(async () => {
  await app.register(async (hooks) => {
    fastifyRawBody(hooks, { maxBytes: 1024, timeoutMs: 300 });
    hooks.post('/hooks/github', async (request, reply) => {
      handled.push(String(request.headers['x-github-delivery']));
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

  it('answers 413 body_too_large past the limit, announced or streamed, before the handler runs', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(4000) });
    const signed = await signWebhook({ scheme: 'github', secret, body: big, id: 'f-big', type: 'issues' });
    const response = await fetch(url('/hooks/github'), { method: 'POST', body: big, headers: signed.headers });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'body_too_large' });
    // no Content-Length: the count while reading stops it
    const chunked = await fetch(url('/hooks/github'), {
      method: 'POST',
      body: new Blob([big]).stream(),
      duplex: 'half',
      headers: signed.headers,
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(handled).not.toContain('f-big');
  });

  it('answers 408 body_timeout and closes the connection when the body stalls past timeoutMs (real socket, real time)', async () => {
    const { port } = new URL(url('/'));
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const started = performance.now();
    socket.write(
      'POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'X-GitHub-Delivery: f-stalled\r\nContent-Length: 100\r\n\r\n{"action"',
    );
    let answer = '';
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    await once(socket, 'close');
    const elapsed = performance.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('"code":"body_timeout"');
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(3_000);
    expect(handled).not.toContain('f-stalled');
    // the server still serves the next sender
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'f-after', type: 'issues' });
    const next = await fetch(url('/hooks/github'), { method: 'POST', body, headers: signed.headers });
    expect(next.status).toBe(200);
  });

  it('refuses a timeoutMs that is not a positive integer or false', () => {
    const instance = { removeAllContentTypeParsers() {}, addContentTypeParser() {} };
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, 2 ** 31, '10' as never]) {
      expect(() => fastifyRawBody(instance, { timeoutMs })).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    }
    expect(() => fastifyRawBody(instance, { timeoutMs: false })).not.toThrow();
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

import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { signWebhook } from '../webhooks/sign';
import { toExpress, toFastify, toHono, toNodeHandler } from './adapters';
import { createWebhookHandler, type WebhookHandler } from './handler';
import { memoryInbox } from './memory';

const SECRET = 'whsec_keepalive';
const PATH = '/hook';

const endpoint = (): WebhookHandler =>
  createWebhookHandler({
    source: 'shop',
    verify: { scheme: 'stripe', secret: SECRET },
    inbox: memoryInbox(),
    maxBodyBytes: 4096,
    onError: () => {},
  });

interface Answer {
  status: number;
  connection: string | undefined;
  reusedSocket: boolean;
}

/** One POST through `agent`, the body written in chunks with or without a Content-Length. */
function post(base: string, agent: Agent, body: string, headers: Record<string, string>, chunked = false) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(`${base}${PATH}`, {
      method: 'POST',
      agent,
      headers: chunked ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket }),
      );
    });
    req.on('error', reject);
    // write in pieces, as a client streaming a large body does
    for (let i = 0; i < body.length; i += 16_384) req.write(body.slice(i, i + 16_384));
    req.end();
  });
}

/** After a 413, the next request on the same keep-alive agent must be answered normally. */
async function expectNextRequestServed(base: string, chunked: boolean) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const big = JSON.stringify({ id: 'evt_big', type: 't', pad: 'x'.repeat(200_000) });
    const tooLarge = await post(base, agent, big, { 'content-type': 'application/json' }, chunked);
    expect(tooLarge.status).toBe(413);
    const body = JSON.stringify({ id: `evt_next_${chunked}`, type: 't' });
    const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
    const next = await post(base, agent, body, { ...signed.headers, 'content-type': 'application/json' });
    expect(next.status).toBe(200);
    // the 413 said it closes the connection, so the next request went out on a fresh one
    expect(tooLarge.connection).toBe('close');
    expect(next.reusedSocket).toBe(false);
  } finally {
    agent.destroy();
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function listen(server: Server): Promise<string> {
  if (!server.listening) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('after a 413 on a keep-alive connection, the next request is served', () => {
  it('node:http, with a Content-Length and chunked', async () => {
    const base = await listen(createServer(toNodeHandler(endpoint())));
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });

  it('Express', async () => {
    const app = express();
    app.post(PATH, toExpress(endpoint()));
    const base = await listen(createServer(app));
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });

  it('Fastify', async () => {
    const app = Fastify();
    await app.register(toFastify(endpoint(), { path: PATH }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });

  it('Hono on @hono/node-server', async () => {
    const app = new Hono();
    app.post(PATH, toHono(endpoint()));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await once(server, 'listening');
    const base = await listen(server);
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });
});

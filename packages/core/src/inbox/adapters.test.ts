import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listenForTest } from '../../../../test-support/http-server';
import { signWebhook } from '../webhooks/sign';
import { toExpress, toFastify, toHono, toNextRoute, toNodeHandler } from './adapters';
import { createWebhookHandler, type WebhookHandler } from './handler';
import type { Inbox } from './inbox';
import { memoryInbox } from './memory';

const SECRET = 'whsec_adapter_test';
const PATH = '/webhooks/stripe';

function endpoint(): { handler: WebhookHandler; inbox: Inbox } {
  const inbox = memoryInbox();
  const handler = createWebhookHandler({
    source: 'stripe',
    verify: { scheme: 'stripe', secret: SECRET },
    inbox,
    maxBodyBytes: 4096,
  });
  return { handler, inbox };
}

async function post(base: string, body: string, secret = SECRET): Promise<{ status: number; json: unknown }> {
  const signed = await signWebhook({ scheme: 'stripe', secret, body });
  const res = await fetch(`${base}${PATH}`, { method: 'POST', headers: signed.headers, body });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/** The same behaviour through every framework: stored, duplicate, forged, oversized. */
async function expectEndpointBehaviour(base: string, inbox: Inbox) {
  const event = JSON.stringify({ id: 'evt_adapter', type: 'invoice.paid' });
  expect(await post(base, event)).toEqual({ status: 200, json: { received: true, duplicate: false } });
  expect(await post(base, event)).toEqual({ status: 200, json: { received: true, duplicate: true } });
  expect(await inbox.get('stripe', 'evt_adapter')).toMatchObject({ type: 'invoice.paid' });
  const forged = await post(base, JSON.stringify({ id: 'evt_forged', type: 't' }), 'whsec_wrong');
  expect(forged).toEqual({ status: 401, json: { error: 'no_matching_signature' } });
  const big = await post(base, JSON.stringify({ id: 'evt_big', type: 't', pad: 'x'.repeat(10_000) }));
  expect(big.status).toBe(413);
  expect((await inbox.counts()).total).toBe(1);
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Starts a Fastify app on a free local port, closed after the test; returns its base URL. */
async function listenFastify(app: ReturnType<typeof Fastify>): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

describe('framework adapters', () => {
  it('node:http', async () => {
    const { handler, inbox } = endpoint();
    const base = await listenForTest(createServer(toNodeHandler(handler)));
    await expectEndpointBehaviour(base, inbox);
  });

  it('Express, mounted before a JSON parser and behind express.raw()', async () => {
    const { handler, inbox } = endpoint();
    const app = express();
    app.post(PATH, toExpress(handler));
    app.use(express.json());
    await expectEndpointBehaviour(await listenForTest(createServer(app)), inbox);

    const raw = endpoint();
    const rawApp = express();
    rawApp.post(PATH, express.raw({ type: '*/*' }), toExpress(raw.handler));
    await expectEndpointBehaviour(await listenForTest(createServer(rawApp)), raw.inbox);
  });

  it('Express behind a JSON parser answers 500 body_already_parsed (a misconfigured route) and reports it', async () => {
    const errors: unknown[] = [];
    const inbox = memoryInbox();
    const handler = createWebhookHandler({
      source: 'stripe',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox,
      onError: (error) => errors.push(error),
    });
    const app = express();
    app.use(express.json());
    app.post(PATH, toExpress(handler));
    const base = await listenForTest(createServer(app));
    const res = await post(base, JSON.stringify({ id: 'evt_parsed', type: 't' }));
    expect(res).toEqual({ status: 500, json: { error: 'body_already_parsed' } });
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['body_already_parsed']);
    expect((await inbox.counts()).total).toBe(0);
  });

  it('Fastify, with the raw body parser scoped to the plugin', async () => {
    const { handler, inbox } = endpoint();
    const app = Fastify();
    await app.register(toFastify(handler, { path: PATH }));
    app.post('/json', async (request) => ({ echoed: request.body }));
    const base = await listenFastify(app);
    await expectEndpointBehaviour(base, inbox);
    // the 413 is the handler's own answer, as with every adapter
    const big = await post(base, JSON.stringify({ id: 'evt_big2', type: 't', pad: 'x'.repeat(10_000) }));
    expect(big).toEqual({ status: 413, json: { error: 'body_too_large' } });
    const other = await fetch(`${base}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(await other.json()).toEqual({ echoed: { a: 1 } }); // other routes still parse JSON
  });

  it('Hono on @hono/node-server', async () => {
    const { handler, inbox } = endpoint();
    const app = new Hono();
    app.post(PATH, toHono(handler));
    const base = await listenForTest(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server);
    await expectEndpointBehaviour(base, inbox);
  });

  it('Next.js route handler (a Web Request handler)', async () => {
    const { handler, inbox } = endpoint();
    const POST = toNextRoute(handler);
    const base = 'http://localhost:3000';
    const call = async (body: string, secret = SECRET) => {
      const signed = await signWebhook({ scheme: 'stripe', secret, body });
      const res = await POST(new Request(`${base}${PATH}`, { method: 'POST', headers: signed.headers, body }));
      return { status: res.status, json: await res.json() };
    };
    const event = JSON.stringify({ id: 'evt_next', type: 'invoice.paid' });
    expect(await call(event)).toEqual({ status: 200, json: { received: true, duplicate: false } });
    expect(await call(event)).toEqual({ status: 200, json: { received: true, duplicate: true } });
    expect((await call(event, 'whsec_wrong')).status).toBe(401);
    expect((await call(JSON.stringify({ id: 'b', type: 't', pad: 'x'.repeat(10_000) }))).status).toBe(413);
    expect((await inbox.counts()).total).toBe(1);
  });
});

interface Answer {
  status: number;
  connection: string | undefined;
  reusedSocket: boolean;
}

/** One POST through `agent`, the body written in chunks with or without a Content-Length. */
function postVia(base: string, agent: Agent, body: string, headers: Record<string, string>, chunked = false) {
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
    const tooLarge = await postVia(base, agent, big, { 'content-type': 'application/json' }, chunked);
    expect(tooLarge.status).toBe(413);
    const body = JSON.stringify({ id: `evt_next_${chunked}`, type: 't' });
    const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
    const next = await postVia(base, agent, body, { ...signed.headers, 'content-type': 'application/json' });
    expect(next.status).toBe(200);
    // the 413 said it closes the connection, so the next request went out on a fresh one
    expect(tooLarge.connection).toBe('close');
    expect(next.reusedSocket).toBe(false);
  } finally {
    agent.destroy();
  }
}

describe('after a 413 on a keep-alive connection, the next request is served', () => {
  it('node:http, with a Content-Length and chunked', async () => {
    const base = await listenForTest(createServer(toNodeHandler(endpoint().handler)));
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });

  it('Express', async () => {
    const app = express();
    app.post(PATH, toExpress(endpoint().handler));
    const base = await listenForTest(createServer(app));
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });

  it('Fastify', async () => {
    const app = Fastify();
    await app.register(toFastify(endpoint().handler, { path: PATH }));
    const base = await listenFastify(app);
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });

  it('Hono on @hono/node-server', async () => {
    const app = new Hono();
    app.post(PATH, toHono(endpoint().handler));
    const base = await listenForTest(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server);
    await expectNextRequestServed(base, false);
    await expectNextRequestServed(base, true);
  });
});

describe('toNodeHandler when the response cannot be written', () => {
  it('drops the connection instead of leaving an unhandled rejection', async () => {
    const { handler } = endpoint();
    let destroyed = false;
    let writes = 0;
    const res = {
      headersSent: true, // e.g. another middleware already answered
      writeHead() {
        writes++;
        throw Object.assign(new Error('Cannot write headers after they are sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
      },
      end() {},
      destroy() {
        destroyed = true;
      },
    };
    const req = Object.assign(Readable.from([]), { method: 'GET', headers: {} });
    toNodeHandler(handler)(req as never, res as never);
    await vi.waitFor(() => expect(destroyed).toBe(true));
    expect(writes).toBe(1);
  });
});

describe('a sender that stalls mid-body', () => {
  /** Sends the headers and part of a signed body over a raw socket, then nothing more. */
  async function stall(base: string): Promise<{ head: string; elapsedMs: number; closed: boolean }> {
    const { port } = new URL(base);
    const body = JSON.stringify({ id: 'evt_stalled', type: 'invoice.paid' });
    const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const started = Date.now();
    socket.write(
      `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Stripe-Signature: ${signed.headers['stripe-signature']}\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 10),
    );
    let received = '';
    socket.on('data', (chunk) => {
      received += String(chunk);
    });
    const closed = await new Promise<boolean>((resolve) => {
      const giveUp = setTimeout(() => resolve(false), 5_000);
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve(true);
      });
    });
    socket.destroy();
    return { head: received.split('\r\n')[0] ?? '', elapsedMs: Date.now() - started, closed };
  }

  /** An endpoint that gives a body 300 ms. */
  function impatientEndpoint() {
    const inbox = memoryInbox();
    const handler = createWebhookHandler({
      source: 'stripe',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox,
      bodyTimeoutMs: 300,
    });
    return { inbox, handler };
  }

  /** A stalled body gets 408 and a closed connection after about 300 ms, nothing is stored, and the next sender is served. */
  async function expectStallAnswered(base: string, inbox: Inbox) {
    const result = await stall(base);
    expect(result.head).toBe('HTTP/1.1 408 Request Timeout');
    expect(result.closed).toBe(true);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(result.elapsedMs).toBeLessThan(3_000);
    expect((await inbox.counts()).total).toBe(0);
    const event = JSON.stringify({ id: 'evt_after_stall', type: 'invoice.paid' });
    expect(await post(base, event)).toEqual({ status: 200, json: { received: true, duplicate: false } });
  }

  it('gets 408 body_timeout and a closed connection after bodyTimeoutMs, nothing stored (node:http)', async () => {
    const { inbox, handler } = impatientEndpoint();
    expect(handler.bodyTimeoutMs).toBe(300);
    await expectStallAnswered(await listenForTest(createServer(toNodeHandler(handler))), inbox);
  });

  it('gets 408 through the Web Request handler too (Hono on @hono/node-server)', async () => {
    const { inbox, handler } = impatientEndpoint();
    const app = new Hono();
    app.post(PATH, toHono(handler));
    const base = await listenForTest(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server);
    const result = await stall(base);
    expect(result.head).toBe('HTTP/1.1 408 Request Timeout');
    expect(result.elapsedMs).toBeLessThan(3_000);
    expect((await inbox.counts()).total).toBe(0);
  });

  it('gets 408 through Fastify too: its parser leaves the stream to the handler, which bounds the read', async () => {
    const { inbox, handler } = impatientEndpoint();
    const app = Fastify();
    await app.register(toFastify(handler, { path: PATH }));
    await expectStallAnswered(await listenFastify(app), inbox);
  });

  it('defaults to 10 s and refuses a bodyTimeoutMs that is not a positive integer', () => {
    const inbox = memoryInbox();
    const verify = { scheme: 'stripe', secret: SECRET } as const;
    expect(createWebhookHandler({ source: 's', verify, inbox }).bodyTimeoutMs).toBe(10_000);
    for (const bodyTimeoutMs of [0, -1, 1.5, Number.NaN, 2 ** 31])
      expect(() => createWebhookHandler({ source: 's', verify, inbox, bodyTimeoutMs })).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
  });
});

import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { stripeClient } from './client';
import { isStripeError, type StripeError } from './errors';

/**
 * Real sockets: a server that answers the headers and then stalls, or breaks the connection,
 * mid-body. The client's per-attempt timeout ends with the headers; the body must be bounded too.
 */

const servers: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => server.close(r));
  }
});

/** A raw HTTP server answering every request with a 200 whose body stops after a few bytes. */
async function midBody(then: 'stall' | 'reset'): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: req_mid\r\nContent-Length: 500\r\n\r\n{"id":"cus_',
        () => {
          if (then === 'reset') socket.destroy();
        },
      );
    });
  });
  servers.push({ server, sockets });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

const client = (baseUrl: string) =>
  stripeClient({
    apiKey: 'sk_test_body_secret_123',
    apiVersion: '2026-10-28.endive',
    baseUrl,
    timeoutMs: 300,
    breaker: false,
    limiter: false,
  });

describe('stripeClient when the body does not arrive', () => {
  it('a body that stalls after the headers is a StripeConnectionError once timeoutMs has passed again', async () => {
    const started = Date.now();
    const error = (await client(await midBody('stall'))
      .get('/v1/customers/cus_1')
      .catch((e: unknown) => e)) as StripeError;
    expect(isStripeError(error)).toBe(true);
    expect(error.code).toBe('connection');
    expect(error.status).toBe(200);
    expect(error.requestId).toBe('req_mid');
    expect(error.message).toContain('body did not arrive');
    expect(error.message).not.toContain('sk_test_body_secret_123');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a connection broken mid-body is a StripeConnectionError, not a bare TypeError', async () => {
    const error = (await client(await midBody('reset'))
      .post('/v1/customers', { email: 'ada@example.com' })
      .catch((e: unknown) => e)) as StripeError;
    expect(isStripeError(error)).toBe(true);
    expect(error.code).toBe('connection');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it("a caller's abort during the body read rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error('gave up');
    setTimeout(() => controller.abort(reason), 100);
    const stripe = stripeClient({
      apiKey: 'sk_test_x',
      apiVersion: '2026-10-28.endive',
      baseUrl: await midBody('stall'),
      timeoutMs: 5_000,
      breaker: false,
      limiter: false,
    });
    await expect(stripe.get('/v1/customers/cus_1', {}, { signal: controller.signal })).rejects.toBe(reason);
  });
});

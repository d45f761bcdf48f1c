import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker } from './circuit-breaker';
import type { Classifier } from './classify';
import { isResilienceError, type ResilienceError } from './errors';
import { readResponseText } from './read-body';
import { resilientFetch } from './resilient-fetch';
import { settle } from './test-support';

/**
 * resilientFetch over real sockets and real time, with undici's own errors:
 * what counts as a network failure, bodies that cannot be re-sent, and the
 * time bounds of a probe and of reading a body to classify it.
 */

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Starts a server on 127.0.0.1; returns its base URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nobody listens on (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

/** Drains a request body, then answers. */
function answer(status: number, body = '', delayMs = 0) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(status).end(body), delayMs));
  };
}

describe('resilientFetch over real sockets', () => {
  it('one tenant’s token with a typographic apostrophe does not open the breaker for other tenants', async () => {
    let hits = 0;
    const base = await serve((req, res) => {
      hits++;
      answer(200, 'ok')(req, res);
    });
    const key = new URL(base).host;
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const f = resilientFetch({ breaker: breakers, retry: { random: () => 0 } });
    for (let i = 0; i < 5; i++) {
      const { error } = await settle(f(`${base}/v1/me`, { headers: { authorization: 'Bearer it’s-tenant-a' } }));
      expect(isResilienceError(error) && error.code).toBe('invalid_request');
      expect((error as ResilienceError).cause).toBeInstanceOf(TypeError);
    }
    expect(hits).toBe(0); // never sent, never retried
    expect(breakers.state(key)).toBe('closed');
    expect(breakers.health()[0]?.consecutiveFailures).toBe(0);
    const other = await f(`${base}/v1/me`, { headers: { authorization: 'Bearer tenant-b' } });
    expect(await other.text()).toBe('ok');
  });

  it('a GET with a body and a bad URL are invalid_request, not retried and not counted; a refused connection is', async () => {
    const breakers = circuitBreaker({ failureThreshold: 3 });
    const f = resilientFetch({ breaker: breakers, retry: { random: () => 0, baseDelayMs: 1 } });
    const base = await closedPort();
    const key = new URL(base).host;
    const withBody = await settle(f(`${base}/x`, { method: 'GET', body: 'x' }));
    expect((withBody.error as ResilienceError).code).toBe('invalid_request');
    const badUrl = await settle(f('http//missing-colon.test/x'));
    expect((badUrl.error as ResilienceError).code).toBe('invalid_request');
    expect(breakers.state(key)).toBe('closed');

    const refused = await settle(f(`${base}/x`));
    expect((refused.error as Error).message).toBe('fetch failed');
    expect(((refused.error as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(breakers.state(key)).toBe('open'); // three refused attempts, counted
  });

  it('never re-sends a stream body or a keyless Request after ECONNREFUSED: the caller gets the real error', async () => {
    const base = await closedPort();
    const f = resilientFetch({ breaker: false, retry: { random: () => 0, baseDelayMs: 1 } });
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"amount":1}'));
        c.close();
      },
    });
    const streamed = await settle(
      f(`${base}/charges`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit),
    );
    expect((streamed.error as Error).message).toBe('fetch failed');
    expect(((streamed.error as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');

    const request = new Request(`${base}/charges`, { method: 'POST', body: '{"amount":1}' });
    const keyless = await settle(f(request));
    expect((keyless.error as Error).message).toBe('fetch failed');
    expect(((keyless.error as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');

    // a body that can be sent again still is: a string POST after a refused connection
    let seen = 0;
    const up = await serve((req, res) => {
      seen++;
      answer(201)(req, res);
    });
    const g = resilientFetch({ breaker: false, retry: { random: () => 0, baseDelayMs: 1 } });
    expect((await g(`${up}/charges`, { method: 'POST', body: '{"amount":1}' })).status).toBe(201);
    expect(seen).toBe(1);
  });

  it('a half-open probe that hangs with timeoutMs: false is bounded by probeTimeoutMs and re-opens the breaker', async () => {
    let hang = false;
    const base = await serve((req, res) => {
      if (hang) return; // never answers
      answer(503)(req, res);
    });
    const key = new URL(base).host;
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 50, probeTimeoutMs: 300 });
    const f = resilientFetch({ breaker: breakers, retry: false, timeoutMs: false });
    await f(`${base}/x`);
    await f(`${base}/x`);
    await new Promise((r) => setTimeout(r, 60));
    hang = true;
    const { error } = await settle(f(`${base}/x`));
    expect((error as ResilienceError).code).toBe('timeout');
    expect(breakers.state(key)).toBe('open');
  });

  it('reading a body to classify it stops at the deadline', async () => {
    const base = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":'); // and never finishes
    });
    const classify: Classifier = async (_response, ctx) =>
      ((await ctx.json()) as { status?: string } | undefined)?.status === 'OK' ? 'success' : 'retryable';
    const f = resilientFetch({ breaker: false, retry: false, classify, deadlineMs: 300 });
    const { error } = await settle(f(`${base}/geocode/json`));
    expect((error as ResilienceError).code).toBe('deadline_exceeded');
  });

  it('reading a body to classify it stops at the attempt timeout, and the attempt is retried', async () => {
    let requests = 0;
    const base = await serve((req, res) => {
      req.resume();
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (requests === 1)
        res.write('{"status":'); // and never finishes
      else res.end('{"status":"OK"}');
    });
    const classify: Classifier = async (_response, ctx) =>
      ((await ctx.json()) as { status?: string } | undefined)?.status === 'OK' ? 'success' : 'retryable';
    const f = resilientFetch({ breaker: false, retry: { attempts: 2, baseDelayMs: 0 }, classify, timeoutMs: 300 });
    const started = Date.now();
    const response = await f(`${base}/geocode/json`);
    expect(await response.json()).toEqual({ status: 'OK' });
    expect(requests).toBe(2);
    console.log('ELAPSED', Date.now() - started);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('readResponseText over real sockets', () => {
  it('a body that stalls after the headers rejects with timeout once timeoutMs has passed', async () => {
    const base = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"data":'); // and never finishes
    });
    const response = await fetch(base);
    const started = Date.now();
    const { error } = await settle(readResponseText(response, { timeoutMs: 200, key: '127.0.0.1' }));
    expect(isResilienceError(error)).toBe(true);
    expect((error as ResilienceError).code).toBe('timeout');
    expect((error as ResilienceError).message).toContain('200 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a connection that breaks mid-body rejects with the stream error; a complete body reads in full', async () => {
    const base = await serve((req, res) => {
      req.resume();
      if (req.url === '/whole') return res.writeHead(200).end('héllo wörld');
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"data":', () => res.destroy());
    });
    const { error } = await settle(readResponseText(await fetch(`${base}/broken`), { timeoutMs: 2_000 }));
    expect(error).toBeInstanceOf(TypeError);
    expect(await readResponseText(await fetch(`${base}/whole`), { timeoutMs: 2_000 })).toBe('héllo wörld');
  });

  it("an abort stops the read with the signal's reason; a bad timeoutMs is invalid_options", async () => {
    const base = await serve((req, res) => {
      req.resume();
      res.writeHead(200);
      res.write('partial');
    });
    const controller = new AbortController();
    const reading = settle(readResponseText(await fetch(base), { signal: controller.signal }));
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 50);
    expect((await reading).error).toBe(reason);
    for (const timeoutMs of [0, -1, Number.NaN]) {
      const { error } = await settle(readResponseText(new Response('x'), { timeoutMs }));
      expect((error as ResilienceError).code).toBe('invalid_options');
    }
  });
});

describe('a fetch that drops its signal, over a real socket that never answers', () => {
  it('the attempt limit still ends the call on time (real time), then the caller’s abort does', async () => {
    const held: Socket[] = [];
    const base = await serve((req) => held.push(req.socket)); // accepts, never answers
    // a wrapper that forgets to pass the signal on: the request itself can no longer be cancelled
    const deaf = (input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, signal: null });
    const f = resilientFetch({ fetch: deaf, timeoutMs: 300, retry: { attempts: 1 }, breaker: false });
    let started = performance.now();
    const { error } = await settle(f(`${base}/v1/hang`));
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);

    const unlimited = resilientFetch({ fetch: deaf, timeoutMs: false, breaker: false });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user left')), 200);
    started = performance.now();
    const aborted = await settle(unlimited(`${base}/v1/hang`, { signal: controller.signal }));
    expect((aborted.error as Error).message).toBe('user left');
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(held).toHaveLength(2); // both requests really went out, and hang there still
    for (const socket of held) socket.destroy();
  });
});

/**
 * The cache and cancellation over real sockets and real time: a local HTTP
 * server that trickles its body, or holds its headers, and a caller that
 * aborts. No msw here: the requests must reach the server.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cache, cacheStatus } from './cache';
import { memoryCache } from './cache-memory';
import { resilientFetch } from './resilient-fetch';
import { timeout } from './timeout';

/** What the server saw of its last response. */
interface Seen {
  requests: number;
  chunksWritten: number;
  /** The connection closed before the whole body was sent. */
  cutShort: boolean | undefined;
}

const CHUNKS = 40;
const CHUNK_EVERY_MS = 40; // the whole body takes 1.6 s; the tests abort after the first chunk

const seen: Seen = { requests: 0, chunksWritten: 0, cutShort: undefined };
/** `hold`: the next request's headers wait until the connection closes. */
let mode: 'ok' | 'hold' = 'ok';

function trickle(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  const write = () => {
    res.write('x'.repeat(64));
    seen.chunksWritten++;
    if (seen.chunksWritten === CHUNKS) {
      clearInterval(timer);
      res.end();
    }
  };
  const timer = setInterval(write, CHUNK_EVERY_MS);
  write();
  res.on('close', () => {
    clearInterval(timer);
    seen.cutShort = !res.writableFinished;
  });
}

const server = createServer((req, res) => {
  seen.requests++;
  seen.chunksWritten = 0;
  seen.cutShort = undefined;
  if (req.url === '/body') return trickle(res);
  if (mode === 'hold') {
    res.on('close', () => {
      seen.cutShort = !res.writableFinished;
    });
    return; // no headers until the caller gives up
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"version":1}');
});

let origin = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('cancellation over real sockets', () => {
  it('aborting after the headers cancels the body read through resilientFetch and its cache', async () => {
    const store = memoryCache();
    const c = cache({ store });
    // every default layer: retry, breaker, the 30 s per-attempt timeout, and the cache
    const f = resilientFetch({ cache: c });
    const caller = new AbortController();
    const res = await f(`${origin}/body`, { signal: caller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false); // the first chunk arrived
    caller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    // the server saw the connection go before it had sent the body
    await vi.waitFor(() => expect(seen.cutShort).toBe(true), { timeout: 5_000, interval: 10 });
    expect(seen.chunksWritten).toBeLessThan(CHUNKS);
    await c.flush();
    expect(store.size).toBe(0); // the cache's copy was cut short too, and nothing half-read was stored
  });

  it("timeout(ms).execute lets the caller's abort reach the body after the headers", async () => {
    const caller = new AbortController();
    const res = await timeout(30_000).execute((signal) => fetch(`${origin}/body`, { signal }), {
      signal: caller.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    caller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    await vi.waitFor(() => expect(seen.cutShort).toBe(true), { timeout: 5_000, interval: 10 });
    expect(seen.chunksWritten).toBeLessThan(CHUNKS);
  });

  it("answers a caller's abort with a rejection, never with the stale entry", async () => {
    mode = 'ok';
    const c = cache();
    const f = resilientFetch({ cache: c, retry: false });
    expect(await (await f(`${origin}/item`)).json()).toEqual({ version: 1 });
    await c.flush();

    mode = 'hold';
    const caller = new AbortController();
    const before = seen.requests;
    const pending = f(`${origin}/item`, { signal: caller.signal });
    const outcome = pending.then(
      (res) => ({ served: cacheStatus(res) ?? 'provider' }),
      (error: unknown) => ({ error }),
    );
    await vi.waitFor(() => expect(seen.requests).toBe(before + 1), { timeout: 5_000, interval: 10 });
    caller.abort();
    expect(await outcome).toEqual({ error: expect.objectContaining({ name: 'AbortError' }) });
    await vi.waitFor(() => expect(seen.cutShort).toBe(true), { timeout: 5_000, interval: 10 });
  });
});

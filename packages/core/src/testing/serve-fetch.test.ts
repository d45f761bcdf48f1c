import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isTestingError, TestingError } from './errors';
import { type FetchServer, serveFetch } from './serve-fetch';

const servers: FetchServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function serve(...args: Parameters<typeof serveFetch>): Promise<FetchServer> {
  const server = await serveFetch(...args);
  servers.push(server);
  return server;
}

/** Writes `raw` on a fresh socket and resolves with everything read until the server closed it or `idleMs` passed. */
function rawExchange(
  port: number,
  raw: string | Buffer,
  idleMs = 1500,
): Promise<{ data: string; closedByServer: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let error: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data, closedByServer: false });
    }, idleMs);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closedByServer: true, ...(error ? { error } : {}) });
    });
    socket.write(raw);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('serveFetch', () => {
  it('passes method, URL and headers (repeated ones joined in wire order) to the handler', async () => {
    const seen = deferred<Request>();
    const server = await serve(async (request) => {
      seen.resolve(request);
      return new Response('ok');
    });
    const { data } = await rawExchange(
      server.port,
      [
        'PATCH /v1/things/7?expand=a&expand=b HTTP/1.1',
        `Host: 127.0.0.1:${server.port}`,
        'X-Tag: first',
        'Accept: application/json',
        'x-tag: second',
        'X-Tag: third',
        'Connection: close',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    expect(data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const request = await seen.promise;
    expect(request.method).toBe('PATCH');
    expect(request.url).toBe(`http://127.0.0.1:${server.port}/v1/things/7?expand=a&expand=b`);
    expect(request.headers.get('x-tag')).toBe('first, second, third');
    expect(request.headers.get('accept')).toBe('application/json');
  });

  it('writes back status, status text and headers, every set-cookie kept apart', async () => {
    const server = await serve(async () => {
      const headers = new Headers({ 'content-type': 'application/json', 'x-request-id': 'req_1' });
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Path=/');
      headers.append('vary', 'accept');
      headers.append('vary', 'origin');
      return new Response('{"ok":true}', { status: 418, statusText: 'Short And Stout', headers });
    });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest(`${server.url}/`, resolve).on('error', reject).end();
    });
    res.resume();
    expect(res.statusCode).toBe(418);
    expect(res.statusMessage).toBe('Short And Stout');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(res.headers.vary).toBe('accept, origin');
    expect(res.headers['x-request-id']).toBe('req_1');
  });

  it('carries a binary body both ways, byte for byte', async () => {
    const bytes = new Uint8Array(70_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) % 256;
    const server = await serve(async (request) => {
      const got = new Uint8Array(await request.arrayBuffer());
      // echo it reversed, so the test sees the handler read every byte
      return new Response(got.slice().reverse(), { headers: { 'content-type': 'application/octet-stream' } });
    });
    const res = await fetch(`${server.url}/upload`, { method: 'POST', body: bytes });
    const back = new Uint8Array(await res.arrayBuffer());
    expect(back.length).toBe(bytes.length);
    expect(Buffer.from(back).equals(Buffer.from(bytes.slice().reverse()))).toBe(true);
  });

  it('gives GET and HEAD requests no body', async () => {
    const bodies: Array<string | null> = [];
    const server = await serve(async (request) => {
      bodies.push(request.body === null ? null : await request.text());
      return new Response('x');
    });
    await rawExchange(
      server.port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
    );
    expect(bodies).toEqual([null]);
  });

  it("aborts the request's signal when the client goes away before the answer", async () => {
    const started = deferred<Request>();
    const aborted = deferred<unknown>();
    const server = await serve(async (request) => {
      request.signal.addEventListener('abort', () => aborted.resolve(request.signal.reason), { once: true });
      started.resolve(request);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      return new Response('too late');
    });
    const client = new AbortController();
    const call = fetch(`${server.url}/slow`, { signal: client.signal }).catch((e: unknown) => e);
    const request = await started.promise;
    expect(request.signal.aborted).toBe(false);
    client.abort();
    const reason = await aborted.promise;
    expect(request.signal.aborted).toBe(true);
    expect(String(reason)).toMatch(/closed the connection/);
    expect(await call).toBeInstanceOf(Error);
  });

  it('does not abort the signal of a request that was answered when its keep-alive connection later closes', async () => {
    const requests: Request[] = [];
    const server = await serve(async (request) => {
      requests.push(request);
      return new Response('fine');
    });
    const agent = new Agent({ keepAlive: true });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest(`${server.url}/`, { agent }, resolve).on('error', reject).end();
    });
    await new Promise((resolve) => res.resume().on('end', resolve));
    agent.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(requests).toHaveLength(1);
    expect(requests[0]?.signal.aborted).toBe(false);
  });

  it('resets the connection when the handler answers Response.error()', async () => {
    let calls = 0;
    const server = await serve(async () => {
      calls++;
      return Response.error();
    });
    const outcome = await rawExchange(server.port, 'GET /reset HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(calls).toBe(1);
    expect(outcome.closedByServer).toBe(true);
    expect(outcome.data).toBe('');
    await expect(fetch(`${server.url}/reset`)).rejects.toThrow(TypeError);
  });

  it('answers 500 when the handler throws, or what crashResponse builds', async () => {
    const plain = await serve(async () => {
      throw new Error('boom');
    });
    const res = await fetch(plain.url);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('boom');

    const shaped = await serve(
      async () => {
        throw new Error('kaput');
      },
      { crashResponse: (error) => Response.json({ error: { message: String(error) } }, { status: 503 }) },
    );
    const res2 = await fetch(shaped.url);
    expect(res2.status).toBe(503);
    expect(await res2.json()).toEqual({ error: { message: 'Error: kaput' } });

    const notAResponse = await serve((async () => 'text') as unknown as () => Promise<Response>);
    const res3 = await fetch(notAResponse.url);
    expect(res3.status).toBe(500);
    expect(await res3.text()).toContain('did not return a Response');
  });

  it('reports when the headers arrived, before a slow body, through the clock given', async () => {
    const arrivals = new WeakMap<Request, number>();
    const handled: Array<{ arrivedAt: number | undefined; at: number; body: string }> = [];
    const server = await serve(
      async (request) => {
        handled.push({ arrivedAt: arrivals.get(request), at: Date.now(), body: await request.text() });
        return new Response('ok');
      },
      { clock: () => Date.now(), onArrival: (request, at) => arrivals.set(request, at) },
    );
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nab');
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.end('cd');
    await new Promise((resolve) => socket.on('close', resolve).resume());
    expect(handled).toHaveLength(1);
    const [entry] = handled;
    expect(entry?.body).toBe('abcd');
    expect(entry?.arrivedAt).toBeTypeOf('number');
    expect((entry?.at ?? 0) - (entry?.arrivedAt ?? 0)).toBeGreaterThanOrEqual(250);
  });

  it('close() ends idle keep-alive connections and pending requests, and resolves', async () => {
    const pending = deferred<Request>();
    const server = await serveFetch(async (request) => {
      if (new URL(request.url).pathname === '/hang') {
        pending.resolve(request);
        await new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
      }
      return new Response('ok');
    });
    const agent = new Agent({ keepAlive: true });
    let idleClosed: Promise<unknown> | undefined;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest(`${server.url}/`, { agent }, resolve)
        .on('socket', (socket) => {
          idleClosed = new Promise((closed) => socket.once('close', closed));
        })
        .on('error', reject)
        .end();
    });
    await new Promise((resolve) => res.resume().on('end', resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(agent.freeSockets[Object.keys(agent.freeSockets)[0] ?? '']?.length).toBe(1);
    const hanging = fetch(`${server.url}/hang`).catch((e: unknown) => e);
    const request = await pending.promise;

    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await idleClosed;
    expect(request.signal.aborted).toBe(true);
    expect(await hanging).toBeInstanceOf(TypeError);
    await expect(fetch(server.url)).rejects.toThrow(TypeError);
    await server.close(); // a second close is a no-op
    agent.destroy();
  });

  it('pause() refuses connections on the port and resume() serves it again', async () => {
    const server = await serve(async () => new Response('up'));
    expect(await (await fetch(server.url)).text()).toBe('up');
    await server.pause();
    const refused = await fetch(server.url).catch((e: unknown) => e as Error & { cause?: { code?: string } });
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    await server.resume();
    expect(await (await fetch(server.url)).text()).toBe('up');
    await server.close();
    const error = await server.resume().catch((e: unknown) => e);
    expect(isTestingError(error) && error.code).toBe('closed');
  });

  it('close() or pause() called while a resume() is still opening the port leaves it closed (nothing keeps the process alive)', async () => {
    const refusedAt = async (url: string) => {
      const error = await fetch(url).catch((e: unknown) => e as { cause?: { code?: string } });
      return (error as { cause?: { code?: string } }).cause?.code;
    };
    const server = await serve(async () => new Response('up'));
    await server.pause();
    const resumed = server.resume(); // not awaited, as a fake clearing an outage does
    await server.close();
    await resumed;
    expect(await refusedAt(server.url)).toBe('ECONNREFUSED');

    const other = await serve(async () => new Response('up'));
    await other.pause();
    const reopening = other.resume();
    await other.pause();
    await reopening;
    expect(await refusedAt(other.url)).toBe('ECONNREFUSED');
    await other.resume();
    expect(await (await fetch(other.url)).text()).toBe('up');
    await other.close();
    expect(await refusedAt(other.url)).toBe('ECONNREFUSED');
  });

  it('listens on the port given, and says so when it is taken', async () => {
    const port = await freePort();
    const server = await serve(async () => new Response('here'), { port });
    expect(server.port).toBe(port);
    expect(server.url).toBe(`http://127.0.0.1:${port}`);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('here');
    const error = await serveFetch(async () => new Response(''), { port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestingError);
    expect((error as TestingError).code).toBe('listen_failed');
    expect((error as TestingError).message).toContain(String(port));
  });

  it('rejects bad arguments with invalid_options', async () => {
    const bad = [
      () => serveFetch('nope' as unknown as () => Promise<Response>),
      () => serveFetch(async () => new Response(''), { port: -1 }),
      () => serveFetch(async () => new Response(''), { port: 70000 }),
      () => serveFetch(async () => new Response(''), { port: 1.5 }),
      () => serveFetch(async () => new Response(''), { onArrival: 3 as unknown as () => void }),
    ];
    for (const call of bad) {
      const error = await call().catch((e: unknown) => e);
      expect(isTestingError(error) && error.code).toBe('invalid_options');
    }
  });
});

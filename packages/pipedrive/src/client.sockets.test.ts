import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pipedriveClient } from './client';
import { isPipedriveError, type PipedriveError } from './errors';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedriveServer } from './testing/index';

/**
 * Real sockets, real time: the client against the fake's HTTP server, which
 * counts each request when it arrives. The window is compressed (500 ms
 * instead of 2 s, same limit of 20) so a sustained load spans many windows in
 * a few seconds.
 */
const WINDOW_MS = 500;
const LIMIT = 20;

describe('pipedriveClient over real sockets', () => {
  const fake = createFakePipedrive({ windowMs: WINDOW_MS, ban: { strikes: 1, durationMs: 60_000 } });
  let server: FakePipedriveServer;

  beforeAll(async () => {
    fake.seed({ person: 50 });
    server = await fake.listen();
  });
  afterAll(async () => {
    await server.close();
  });

  it('a sustained load of reads and writes draws no 429 and no ban, and no window the fake sees holds more than the limit', async () => {
    const client = pipedriveClient({
      auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
      plan: 'lite',
      baseUrl: server.url,
      windowMs: WINDOW_MS,
      breaker: false,
      timeoutMs: 10_000,
    });
    const workers = Array.from({ length: 12 }, async (_, w) => {
      for (let i = 0; i < 20; i++) {
        if (i % 5 === 4) await client.persons.update(1 + ((w * 20 + i) % 50), { name: `Name ${w}-${i}` });
        else await client.persons.get(1 + ((w * 20 + i) % 50));
      }
    });
    await Promise.all(workers);
    const stats = fake.stats();
    expect(stats.requests).toBe(240);
    expect(stats.rateLimited).toBe(0);
    expect(stats.bans).toBe(0);
    const arrivals = fake.requests.map((r) => r.at).sort((a, b) => a - b);
    let most = 0;
    for (let i = 0; i < arrivals.length; i++) {
      let j = i;
      while (j < arrivals.length && (arrivals[j] as number) < (arrivals[i] as number) + WINDOW_MS) j++;
      most = Math.max(most, j - i);
    }
    expect(most).toBeLessThanOrEqual(LIMIT);
  }, 30_000);
});

const midServers: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  for (const { server, sockets } of midServers.splice(0)) {
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
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"data":', () => {
        if (then === 'reset') socket.destroy();
      });
    });
  });
  midServers.push({ server, sockets });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('pipedriveClient when the body does not arrive (real sockets)', () => {
  const client = (baseUrl: string) =>
    pipedriveClient({
      auth: { type: 'api_token', token: 'pd_body_secret_123' },
      plan: 'growth',
      baseUrl,
      timeoutMs: 300,
      breaker: false,
      attempts: 1,
    });

  it('a body that stalls after the headers is a connection error once timeoutMs has passed again', async () => {
    const started = Date.now();
    const error = (await client(await midBody('stall'))
      .persons.get(1)
      .catch((e: unknown) => e)) as PipedriveError;
    expect(isPipedriveError(error)).toBe(true);
    expect(error.kind).toBe('connection');
    expect(error.status).toBe(200);
    expect(error.message).toContain('body did not arrive');
    expect(error.message).not.toContain('pd_body_secret_123');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a connection broken mid-body is a connection error, not a bare TypeError, also while paging', async () => {
    const base = await midBody('reset');
    const error = (await client(base)
      .persons.get(1)
      .catch((e: unknown) => e)) as PipedriveError;
    expect(isPipedriveError(error)).toBe(true);
    expect(error.kind).toBe('connection');
    const paging = async () => {
      for await (const _ of client(base).persons.list({})) {
        // never reached
      }
    };
    await expect(paging()).rejects.toMatchObject({ kind: 'connection' });
  });
});

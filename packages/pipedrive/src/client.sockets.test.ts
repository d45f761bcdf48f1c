import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { midBodyServer } from '../../../test-support/mid-body';
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
    const error = (await client(await midBodyServer('stall'))
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
    const base = await midBodyServer('reset');
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

import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, uniqueKeyPrefix } from '../../../test-support/services';
import { type PipedriveClientOptions, pipedriveClient } from './client';
import type { PipedriveError } from './errors';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedrive } from './testing/index';

async function rejection(promise: Promise<unknown>): Promise<PipedriveError> {
  try {
    await promise;
  } catch (error) {
    return error as PipedriveError;
  }
  throw new Error('expected a rejection');
}

describeWithRedis('pipedriveClient: processes sharing a token through Redis', (url) => {
  let redisA: Redis;
  let redisB: Redis;
  beforeAll(() => {
    redisA = new Redis(url);
    redisB = new Redis(url);
  });
  afterAll(async () => {
    await Promise.all([redisA.quit(), redisB.quit()]);
  });

  /** Two clients of the same token, each with its own Redis connection (two processes). */
  function twoProcesses(
    fake: FakePipedrive,
    extra: Partial<PipedriveClientOptions> = {},
    fetchA: NonNullable<PipedriveClientOptions['fetch']> = fake.fetch,
  ) {
    const keyPrefix = uniqueKeyPrefix('ballast-pd');
    const make = (redis: Redis, fetch: NonNullable<PipedriveClientOptions['fetch']>) =>
      pipedriveClient({
        auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
        plan: 'lite',
        companyDomain: fake.companyDomain,
        fetch,
        redis,
        keyPrefix,
        breaker: false,
        retryBudget: false,
        ...extra,
      });
    return [make(redisA, fetchA), make(redisB, fake.fetch)] as const;
  }

  it('share the burst window: together they stay under the limit the fake counts, with no 429', async () => {
    const fake = createFakePipedrive({ windowMs: 400, ban: { strikes: 1, durationMs: 60_000 } });
    fake.seed({ person: 10 });
    const [a, b] = twoProcesses(fake, { windowMs: 400 });
    const load = (client: typeof a) =>
      Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; i < 8; i++) await client.persons.get(1 + ((w + i) % 10));
        }),
      );
    await Promise.all([load(a), load(b)]);
    const stats = fake.stats();
    expect(stats.requests).toBe(96);
    expect(stats.rateLimited).toBe(0);
    expect(stats.bans).toBe(0);
  }, 30_000);

  it('share the daily budget: what one spends, the other cannot', async () => {
    const fake = createFakePipedrive({ rateLimit: false, dailyHeaders: false });
    fake.seed({ person: 2 });
    const [a, b] = twoProcesses(fake, { dailyBudget: 10 });
    for (let i = 0; i < 6; i++) await a.persons.get(1);
    for (let i = 0; i < 4; i++) await b.persons.get(1);
    const error = await rejection(b.persons.get(1));
    expect(error.kind).toBe('daily_budget_spent');
    expect((await rejection(a.persons.get(1))).kind).toBe('daily_budget_spent');
    expect(fake.requests).toHaveLength(10);
  });

  it('share the ban: once one process meets the 403 page, the other sends nothing until it ends', async () => {
    const fake = createFakePipedrive({ rateLimit: false });
    fake.seed({ person: 2 });
    const banPage = async () =>
      new Response('<!DOCTYPE html><html><title>Attention Required! | Cloudflare</title></html>', {
        status: 403,
        headers: { 'content-type': 'text/html' },
      });
    const [a, b] = twoProcesses(fake, { banPauseMs: 60_000 }, banPage);
    expect((await rejection(a.persons.get(1))).kind).toBe('banned');
    const error = await rejection(b.persons.get(1));
    expect(error.kind).toBe('banned');
    expect(error.retryAt).toBeGreaterThan(Date.now() + 50_000);
    expect(fake.requests).toHaveLength(0);
  });
});

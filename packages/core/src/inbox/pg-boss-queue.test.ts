import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { createPostgres } from '../stores/postgres';
import { isInboxError } from './errors';
import { type PgBossLike, pgBossQueue } from './pg-boss-queue';
import type { InboxJob } from './queue';

describe('pgBossQueue options', () => {
  it('rejects a missing boss and bad options with invalid_options', () => {
    const boss = { insert: async () => null, work: async () => 'w' } as unknown as PgBossLike;
    const attempts = [
      () => pgBossQueue({} as PgBossLike),
      () => pgBossQueue(boss, { prefix: 'has space' }),
      () => pgBossQueue(boss, { pollingIntervalSeconds: 0.1 }),
      () => pgBossQueue(boss, { batchSize: 0 }),
    ];
    for (const attempt of attempts) {
      let error: unknown;
      try {
        attempt();
      } catch (e) {
        error = e;
      }
      expect(isInboxError(error) && error.code).toBe('invalid_options');
    }
  });
});

describe('pgBossQueue jobs', () => {
  it('skips jobs without an event key instead of failing the batch on them', async () => {
    let deliver: (jobs: { data: unknown }[]) => Promise<unknown> = async () => {};
    const boss = {
      getQueue: async () => ({}),
      createQueue: async () => {},
      insert: async () => null,
      work: async (_name: string, _options: object, handler: typeof deliver) => {
        deliver = handler;
        return 'worker-1';
      },
      offWork: async () => {},
    } as unknown as PgBossLike;
    const seen: InboxJob[] = [];
    const subscription = await pgBossQueue(boss).work('inbox.acme', async (job) => void seen.push(job), {
      concurrency: 1,
    });
    await deliver([
      { data: null },
      { data: { source: 'acme' } },
      { data: { source: 'acme', id: 'evt_1' } },
      // queued by a release that named the field eventId
      { data: { source: 'acme', eventId: 'evt_0' } },
    ]);
    expect(seen).toEqual([
      { source: 'acme', id: 'evt_1' },
      { source: 'acme', id: 'evt_0' },
    ]);
    await subscription.stop();
  });
});

describeWithPostgres('pgBossQueue', (url) => {
  const schema = uniqueSchema('inboxboss');
  let boss: PgBoss;
  beforeAll(async () => {
    boss = new PgBoss({ connectionString: url, schema, max: 4 });
    boss.on('error', () => {});
    await boss.start();
  });
  afterAll(async () => {
    await boss.stop({ graceful: false });
    const db = await createPostgres({ connectionString: url, max: 1 });
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('carries jobs between queue instances (as between processes), in the configured pg-boss schema', async () => {
    const producer = pgBossQueue(boss, { prefix: 'test' });
    const consumer = pgBossQueue(boss, { prefix: 'test' });
    const seen: InboxJob[] = [];
    const subscription = await consumer.work('inbox.shop', async (job) => void seen.push(job), { concurrency: 2 });
    await producer.send('inbox.shop', [
      { source: 'shop', id: 'e1' },
      { source: 'shop', id: 'e2' },
    ]);
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
    expect(seen.map((j) => j.id).sort()).toEqual(['e1', 'e2']);
    const queue = await boss.getQueue('test.inbox.shop');
    expect(queue).toMatchObject({ name: 'test.inbox.shop', retryLimit: 0 });
    await subscription.stop();
  }, 20_000);

  it('holds a job back until startAfter', async () => {
    const queue = pgBossQueue(boss, { prefix: 'later' });
    await queue.send('inbox.shop', [{ source: 'shop', id: 'late' }], {
      startAfter: new Date(Date.now() + 60_000),
    });
    const [job] = await boss.findJobs<InboxJob>('later.inbox.shop');
    expect(job?.data).toEqual({ source: 'shop', id: 'late' });
    expect(job?.startAfter.getTime()).toBeGreaterThan(Date.now() + 50_000);
  });
});

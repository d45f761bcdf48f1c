import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl } from '../../../../test-support/services';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from '../inbox/testdata/databases';
import { migrate } from '../stores/migrate';
import { bulkUpsert } from './bulk-upsert';
import { type BulkCheckpointStore, memoryBulkCheckpoints } from './checkpoint';
import { isBulkError } from './errors';
import { sqlBulkCheckpoints } from './sql-checkpoint';
import { memoryRemote, people } from './testdata/memory-target';

/** The store as a process that dies sees it: after the crash, nothing more reaches it. */
function crashable(store: BulkCheckpointStore) {
  const state = { crashed: false };
  const dead =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      if (!state.crashed) await fn(...args);
    };
  const wrapped: BulkCheckpointStore = {
    load: (job) => store.load(job),
    getJob: (job) => store.getJob(job),
    save: dead((job, items) => store.save(job, items)),
    saveJob: dead((job, summary) => store.saveJob(job, summary)),
    delete: dead((job) => store.delete(job)),
  };
  return { store: wrapped, state };
}

type Crash = { kind: 'after-create'; nth: number } | { kind: 'timer'; ms: number };

/** Runs the job until the crash, then resumes it on what the store kept; checks every record is there exactly once. */
async function crashAndResume(store: BulkCheckpointStore, crash: Crash, job: string, n = 120): Promise<void> {
  const remote = memoryRemote({ latencyMs: 1 });
  // some records exist before the job: they are updated, never created
  for (let i = 0; i < n; i += 7) remote.records.set(`pre-${i}`, { id: `pre-${i}`, key: `ext-${i}`, name: 'before' });
  const records = people(n);
  const controller = new AbortController();
  const { store: dying, state } = crashable(store);
  const die = () => {
    state.crashed = true;
    controller.abort(new Error('process died'));
  };
  let creates = 0;
  if (crash.kind === 'after-create') {
    remote.afterCreate = () => {
      // the create reached the provider; its answer never comes back
      if (++creates === crash.nth) {
        die();
        throw new Error('connection reset');
      }
    };
  }
  const timer = crash.kind === 'timer' ? setTimeout(die, crash.ms) : undefined;
  const first = await bulkUpsert({
    job,
    records,
    target: remote.target,
    checkpoints: dying,
    signal: controller.signal,
  }).then(
    (r) => r,
    (e: unknown) => e,
  );
  clearTimeout(timer);
  if (state.crashed) expect(isBulkError(first) && first.code).toBe('aborted');
  remote.afterCreate = undefined;

  const resumed = await bulkUpsert({ job, records, target: remote.target, checkpoints: store });
  expect(resumed).toMatchObject({ status: 'completed', done: n, failures: [] });
  if (crash.kind === 'after-create') expect(resumed.resolved).toBeGreaterThanOrEqual(1);
  const keys = [...remote.records.values()].map((r) => r.key);
  expect(keys.length).toBe(n);
  expect(new Set(keys).size).toBe(n);
  for (let i = 0; i < n; i++) expect(remote.count(`ext-${i}`)).toBe(1);
}

function randomCrashes(count: number, n: number): Crash[] {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? { kind: 'after-create' as const, nth: 1 + Math.floor(Math.random() * (n - n / 7 - 1)) }
      : { kind: 'timer' as const, ms: Math.floor(Math.random() * 60) },
  );
}

describe('bulkUpsert after a crash', () => {
  it('never creates a record twice: 30 crashes at random points (some right after a create was sent), each resumed', async () => {
    for (const [i, crash] of randomCrashes(30, 120).entries())
      await crashAndResume(memoryBulkCheckpoints(), crash, `crash-${i}`);
  });

  it('resolves a create whose answer was lost by looking it up, with lookup: find too', async () => {
    const remote = memoryRemote();
    const store = memoryBulkCheckpoints();
    const controller = new AbortController();
    const { store: dying, state } = crashable(store);
    remote.afterCreate = (r) => {
      if (r.key === 'ext-3') {
        state.crashed = true;
        controller.abort();
        throw new Error('connection reset');
      }
    };
    const target = { ...remote.target, concurrency: 1 };
    await bulkUpsert({
      job: 'j',
      records: people(6),
      target,
      lookup: 'find',
      checkpoints: dying,
      signal: controller.signal,
    }).catch(() => undefined);
    expect((await store.load('j')).find((s) => s.key === 'ext-3')).toMatchObject({ status: 'sent', action: 'create' });
    remote.afterCreate = undefined;
    const resumed = await bulkUpsert({ job: 'j', records: people(6), target, lookup: 'find', checkpoints: store });
    expect(resumed).toMatchObject({ status: 'completed', skipped: 3, resolved: 1, created: 2 });
    for (let i = 0; i < 6; i++) expect(remote.count(`ext-${i}`)).toBe(1);
  });
});

const drivers: Array<[string, () => Promise<TestDatabase>]> = [['pglite', pgliteDatabase]];
const url = databaseUrl();
if (url) drivers.push(['postgres', () => postgresDatabase(url, 'bulk_crash', 4)]);
else
  describe.skip('bulkUpsert after a crash, checkpoint on postgres (skipped: DATABASE_URL is not set)', () => undefined);

describe.each(drivers)('bulkUpsert after a crash, checkpoint on %s', (_name, open) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await open();
    await migrate(database.db, { schema: database.schema, modules: ['bulk'] });
  });
  afterAll(() => database.drop());

  it('never creates a record twice: 6 crashes at random points, each resumed from the SQL checkpoint', async () => {
    const store = sqlBulkCheckpoints(database.db, { schema: database.schema });
    for (const [i, crash] of randomCrashes(6, 120).entries()) await crashAndResume(store, crash, `crash-${i}`);
  });
});

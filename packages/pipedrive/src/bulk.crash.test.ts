import type { BulkCheckpointStore } from '@ballast/core/bulk';
import { memoryBulkCheckpoints } from '@ballast/core/stores/memory';
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate, type SqlClient, sqlBulkCheckpoints } from '@ballast/core/stores/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, uniqueSchema } from '../../../test-support/services';
import { bulkUpsertPersons } from './bulk';
import { pipedriveClient } from './client';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedrive } from './testing/index';

const WINDOW = 50;
const N = 120;

/** The store as a dying process sees it: after the crash nothing more reaches it. */
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

/** A process: a client of its own (a fresh limiter after a restart) over the fake. */
function processOn(fake: FakePipedrive, fetch: typeof globalThis.fetch = fake.fetch) {
  return pipedriveClient({
    auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
    plan: 'lite',
    baseUrl: 'https://fake-company.pipedrive.com',
    fetch,
    windowMs: WINDOW,
    breaker: false,
    retryBudget: false,
  });
}

type Crash = { kind: 'after-create'; nth: number } | { kind: 'timer'; ms: number };

async function crashAndResume(checkpoints: BulkCheckpointStore, crash: Crash, job: string): Promise<void> {
  const fake = createFakePipedrive({ windowMs: WINDOW, seed: 7 });
  const field = fake.customFields.person[0]?.key as string;
  for (let i = 0; i < N; i += 6) fake.create('person', { name: `Old ${i}` }, { custom: { [field]: `crm-${i}` } });
  const records = Array.from({ length: N }, (_, i) => ({ key: `crm-${i}`, data: { name: `Contact ${i}` } }));
  const controller = new AbortController();
  const { store, state } = crashable(checkpoints);
  const die = () => {
    state.crashed = true;
    controller.abort(new Error('the process died'));
  };
  let creates = 0;
  // the create reaches Pipedrive and is stored there; its answer never comes back
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const response = await fake.fetch(input, init);
    const request = input instanceof Request ? input : new Request(input, init);
    if (crash.kind === 'after-create' && request.method === 'POST' && response.ok && ++creates === crash.nth) {
      die();
      throw new TypeError('fetch failed: socket hang up');
    }
    return response;
  };
  const timer = crash.kind === 'timer' ? setTimeout(die, crash.ms) : undefined;
  const first = await bulkUpsertPersons(processOn(fake, fetch), {
    job,
    uniqueField: field,
    records,
    checkpoints: store,
    signal: controller.signal,
  }).catch((e: unknown) => e);
  clearTimeout(timer);
  if (state.crashed) expect(first).toMatchObject({ name: 'BulkError', code: 'aborted' });

  const resumed = await bulkUpsertPersons(processOn(fake), { job, uniqueField: field, records, checkpoints });
  expect(resumed).toMatchObject({ status: 'completed', done: N, failures: [] });
  if (crash.kind === 'after-create') expect(resumed.resolved).toBeGreaterThanOrEqual(1);
  const keys = fake.records('person').map((p) => (p.custom_fields as Record<string, unknown>)[field]);
  expect(keys.length).toBe(N);
  expect(new Set(keys).size).toBe(N);
  for (const r of records) expect(keys.filter((k) => k === r.key)).toHaveLength(1);
  expect(fake.stats().bans).toBe(0);
}

function randomCrashes(count: number): Crash[] {
  const newOnes = N - N / 6;
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? { kind: 'after-create' as const, nth: 1 + Math.floor(Math.random() * (newOnes - 1)) }
      : { kind: 'timer' as const, ms: Math.floor(Math.random() * 300) },
  );
}

describe('bulkUpsertPersons killed mid-run and resumed', () => {
  it('leaves every record in the fake exactly once: 10 crashes at random points, half right after a create was sent', async () => {
    for (const [i, crash] of randomCrashes(10).entries()) await crashAndResume(memoryBulkCheckpoints(), crash, `c${i}`);
  });
});

const databases: Array<[string, () => Promise<{ db: SqlClient; schema: string; drop(): Promise<void> }>]> = [
  [
    'pglite',
    async () => {
      const db = await createPGlite();
      return { db, schema: 'ballast', drop: () => db.close() };
    },
  ],
];
const url = databaseUrl();
if (url)
  databases.push([
    'postgres',
    async () => {
      const db = await createPostgres({ connectionString: url, max: 4 });
      const schema = uniqueSchema('pd_bulk');
      return {
        db,
        schema,
        drop: async () => {
          await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await db.close();
        },
      };
    },
  ]);
else
  describe.skip('bulkUpsertPersons killed mid-run, checkpoint on postgres (skipped: DATABASE_URL is not set)', () =>
    undefined);

describe.each(databases)('bulkUpsertPersons killed mid-run, checkpoint on %s', (_name, open) => {
  let database: Awaited<ReturnType<(typeof databases)[number][1]>>;
  beforeAll(async () => {
    database = await open();
    await migrate(database.db, { schema: database.schema, modules: ['bulk'] });
  });
  afterAll(() => database.drop());

  it('leaves every record in the fake exactly once after 4 crashes, each resumed from the SQL checkpoint', async () => {
    const checkpoints = sqlBulkCheckpoints(database.db, { schema: database.schema });
    for (const [i, crash] of randomCrashes(4).entries()) await crashAndResume(checkpoints, crash, `c${i}`);
  });
});
